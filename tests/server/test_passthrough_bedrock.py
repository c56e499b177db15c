"""``/bedrock/*``: Bedrock's own runtime API through the gateway, with the official botocore
``bedrock-runtime`` client (the virtual key as its Bedrock API key). The gateway signs each
request with SigV4 and the configured AWS credentials (the fake checks the signature), never
forwards the client's key, relays ConverseStream's binary event stream, and charges and
ledgers the usage."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import botocore.session
import httpx
import pytest
from botocore import UNSIGNED
from botocore.config import Config

from tests.support.fake_bedrock import USAGE, FakeBedrock
from tests.support.fake_upstream import ThreadedUpstream
from tests.support.gateway_process import GatewayProcess
from unigate.catalog import Catalog

MASTER = "sk-master"
MODEL = "us.anthropic.claude-haiku-4-5-20251001-v1:0"


@pytest.fixture
def fake() -> Iterator[Any]:
    threaded = ThreadedUpstream(FakeBedrock())  # type: ignore[arg-type]
    yield threaded
    threaded.stop()


@pytest.fixture
def gateway(fake: Any, tmp_path: Path) -> Iterator[GatewayProcess]:
    upstream = fake.upstream
    options = {
        "region": upstream.region,
        "aws_access_key_id": upstream.access_key,
        "aws_secret_access_key": upstream.secret_key,
    }
    config = {
        "local_model": {"enabled": False},
        "discover_providers": False,
        "server": {"master_key": MASTER},
        "providers": {"bedrock": {"api_base": fake.root_url, "options": options}},
        "models": [{"name": "haiku", "deployments": [{"provider": "bedrock", "model": MODEL}]}],
    }
    process = GatewayProcess(config=config, workdir=tmp_path).start()
    yield process
    process.stop()


def bedrock_client(gateway: GatewayProcess, key: str) -> Any:
    """botocore's bedrock-runtime client sending the virtual key as a bearer token. (botocore
    sends AWS_BEARER_TOKEN_BEDROCK itself only to an https endpoint; this gateway is plain http.)"""
    session = botocore.session.get_session()
    client = session.create_client(
        "bedrock-runtime",
        region_name="us-west-2",
        endpoint_url=f"{gateway.url}/bedrock",
        config=Config(signature_version=UNSIGNED),
    )

    def bearer(request: Any, **_: Any) -> None:
        request.headers["authorization"] = f"Bearer {key}"

    client.meta.events.register("before-send.bedrock-runtime.*", bearer)
    return client


def test_converse_is_signed_charged_and_ledgered(
    gateway: GatewayProcess, fake: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    admin = {"authorization": f"Bearer {MASTER}"}
    created = httpx.post(f"{gateway.url}/admin/keys", json={"name": "aws"}, headers=admin).json()
    client = bedrock_client(gateway, created["key"])
    reply = client.converse(modelId=MODEL, messages=[{"role": "user", "content": [{"text": "hello"}]}])
    assert reply["output"]["message"]["content"][0]["text"] == "bedrock: hello"
    assert reply["usage"]["inputTokens"] == USAGE["inputTokens"]

    stream = client.converse_stream(modelId=MODEL, messages=[{"role": "user", "content": [{"text": "hi"}]}])
    events = list(stream["stream"])
    assert {"contentBlockDelta": {"contentBlockIndex": 0, "delta": {"text": "streamed"}}} in events
    assert events[-1]["metadata"]["usage"]["outputTokens"] == USAGE["outputTokens"]

    seen = fake.upstream.seen
    assert [s["path"] for s in seen] == [f"/model/{MODEL}/converse", f"/model/{MODEL}/converse-stream"]
    assert all(s["ok"] for s in seen), "the upstream could not verify the gateway's signature"
    assert all(created["key"] not in str(s["headers"]) for s in seen)

    httpx.post(f"{gateway.url}/admin/usage/flush", headers=admin).raise_for_status()
    usage = httpx.get(f"{gateway.url}/admin/usage", params={"key_id": created["id"]}, headers=admin).json()
    assert usage["total"]["requests"] == 2
    priced = {"prompt_tokens": USAGE["inputTokens"], "completion_tokens": USAGE["outputTokens"], "total_tokens": 15}
    cost = Catalog().request_cost("bedrock", MODEL, priced)  # the catalog's price of provider/model
    assert cost and usage["total"]["cost"] == pytest.approx(2 * cost)


def test_a_key_limited_to_other_models_is_refused(
    gateway: GatewayProcess, fake: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    admin = {"authorization": f"Bearer {MASTER}"}
    created = httpx.post(
        f"{gateway.url}/admin/keys", json={"name": "narrow", "models": ["gpt-4o"]}, headers=admin
    ).json()
    client = bedrock_client(gateway, created["key"])
    with pytest.raises(Exception) as refused:
        client.converse(modelId=MODEL, messages=[{"role": "user", "content": [{"text": "x"}]}])
    assert "404" in str(refused.value) or "not available" in str(refused.value)
    assert not fake.upstream.seen
