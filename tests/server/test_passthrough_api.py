"""Native pass-through (/openai/*, /anthropic/*, /gemini/*) with the providers' own SDKs and
wire formats: the provider key replaces the virtual key, usage is charged and ledgered, key
permissions apply; /openai/v1/... is the gateway's own /v1/...."""

from __future__ import annotations

import json
from collections.abc import Iterator

import anthropic
import httpx
import openai
import pytest

from tests.support.agent_upstream import AgentUpstream
from tests.support.fake_media import ThreadedMedia
from tests.support.fake_upstream import FakeUpstream, ThreadedUpstream
from tests.support.gateway_process import GatewayProcess

MASTER = "sk-master"


@pytest.fixture(scope="module")
def upstreams() -> Iterator[tuple[ThreadedUpstream, ThreadedUpstream, ThreadedMedia]]:
    chat = ThreadedUpstream(FakeUpstream())
    agent = ThreadedUpstream(AgentUpstream())  # type: ignore[arg-type]
    media = ThreadedMedia()
    yield chat, agent, media
    chat.stop()
    agent.stop()
    media.stop()


@pytest.fixture(scope="module")
def gateway(
    upstreams: tuple[ThreadedUpstream, ThreadedUpstream, ThreadedMedia], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GatewayProcess]:
    chat, agent, media = upstreams
    config = {
        "local_model": {"enabled": False},
        "discover_providers": False,
        "server": {"master_key": MASTER},
        "providers": {
            "openai": {"api_base": chat.base_url, "api_key": "sk-openai-upstream"},
            "anthropic": {"api_base": agent.url, "api_key": "sk-ant-upstream"},
            "gemini": {"api_base": media.root_url, "api_key": "goog-upstream"},
        },
        "models": [
            {"name": "gpt-4o-mini", "deployments": [{"provider": "openai", "model": "gpt-4o-mini"}]},
        ],
    }
    process = GatewayProcess(config=config, workdir=tmp_path_factory.mktemp("passthrough")).start()
    yield process
    process.stop()


def new_key(gateway: GatewayProcess, **fields: object) -> tuple[str, str]:
    reply = httpx.post(
        f"{gateway.url}/admin/keys", json={"name": "pt", **fields}, headers={"authorization": f"Bearer {MASTER}"}
    )
    reply.raise_for_status()
    return str(reply.json()["id"]), str(reply.json()["key"])


def ledger(gateway: GatewayProcess, key_id: str) -> list[dict[str, object]]:
    admin = {"authorization": f"Bearer {MASTER}"}
    httpx.post(f"{gateway.url}/admin/usage/flush", headers=admin).raise_for_status()
    return httpx.get(f"{gateway.url}/admin/usage", params={"key_id": key_id}, headers=admin).json()["data"]


def no_secret_upstream(headers: dict[str, str], secret: str) -> None:
    assert all(secret not in value for value in headers.values())


def test_openai_pass_through(
    gateway: GatewayProcess, upstreams: tuple[ThreadedUpstream, ThreadedUpstream, ThreadedMedia]
) -> None:
    chat = upstreams[0]
    key_id, secret = new_key(gateway)
    client = openai.OpenAI(base_url=f"{gateway.url}/openai", api_key=secret, max_retries=0)
    raw = client.chat.completions.with_raw_response.create(
        model="gpt-4o", messages=[{"role": "user", "content": "native"}], extra_body={"vendor_field": 1}
    )
    assert raw.parse().choices[0].message.content == "echo: native"
    sent = chat.received[-1]
    assert sent.path == "/v1/chat/completions" and sent.body["vendor_field"] == 1  # unchanged
    assert sent.headers["authorization"] == "Bearer sk-openai-upstream"
    no_secret_upstream(sent.headers, secret)
    assert float(raw.headers["x-unigate-cost"]) == pytest.approx((10 * 2.5 + 5 * 10) / 1e6)
    rows = ledger(gateway, key_id)
    assert rows[0]["endpoint"] == "passthrough" and rows[0]["model"] == "openai/gpt-4o"
    assert rows[0]["input_tokens"] == 10 and rows[0]["output_tokens"] == 5


def test_openai_stream_pass_through_charges_its_usage(
    gateway: GatewayProcess, upstreams: tuple[ThreadedUpstream, ThreadedUpstream, ThreadedMedia]
) -> None:
    key_id, secret = new_key(gateway)
    client = openai.OpenAI(base_url=f"{gateway.url}/openai", api_key=secret, max_retries=0)
    chunks = list(
        client.chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": "stream me"}],
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "echo: stream me"
    row = ledger(gateway, key_id)[0]
    assert row["stream"] is True and row["input_tokens"] == 10 and row["cost"] > 0


def test_anthropic_sdk_pass_through(
    gateway: GatewayProcess, upstreams: tuple[ThreadedUpstream, ThreadedUpstream, ThreadedMedia]
) -> None:
    agent = upstreams[1]
    key_id, secret = new_key(gateway)
    client = anthropic.Anthropic(base_url=f"{gateway.url}/anthropic", api_key=secret, max_retries=0)
    message = client.messages.create(
        model="claude-haiku-4-5", max_tokens=20, messages=[{"role": "user", "content": "hi there"}]
    )
    assert message.content[0].text == "echo: hi there"  # type: ignore[union-attr]
    path, headers, _body = agent.received[-1]
    assert path == "/v1/messages" and headers["x-api-key"] == "sk-ant-upstream"
    no_secret_upstream(headers, secret)
    with client.messages.stream(
        model="claude-haiku-4-5", max_tokens=20, messages=[{"role": "user", "content": "streamed"}]
    ) as stream:
        assert stream.get_final_text() == "echo: streamed"
    rows = ledger(gateway, key_id)
    assert len(rows) == 2 and all(r["provider"] == "anthropic" and r["output_tokens"] for r in rows)


def test_gemini_pass_through(
    gateway: GatewayProcess, upstreams: tuple[ThreadedUpstream, ThreadedUpstream, ThreadedMedia]
) -> None:
    media = upstreams[2]
    key_id, secret = new_key(gateway)
    reply = httpx.post(
        f"{gateway.url}/gemini/v1beta/models/gemini-2.5-flash-image:generateContent",
        params={"key": secret},
        headers={"x-goog-api-key": secret},
        json={"contents": [{"role": "user", "parts": [{"text": "a dot"}]}]},
    )
    assert reply.status_code == 200 and reply.json()["candidates"][0]["content"]["parts"][0]["inlineData"]
    sent = media.seen[-1]
    assert sent.path == "/v1beta/models/gemini-2.5-flash-image:generateContent"
    assert sent.headers["x-goog-api-key"] == "goog-upstream"
    no_secret_upstream(sent.headers, secret)
    row = ledger(gateway, key_id)[0]
    assert row["model"] == "gemini/gemini-2.5-flash-image" and row["output_tokens"] == 1290


def test_openai_v1_prefix_is_the_gateways_own_route(gateway: GatewayProcess) -> None:
    _, secret = new_key(gateway)
    client = openai.OpenAI(base_url=f"{gateway.url}/openai/v1", api_key=secret, max_retries=0)
    raw = client.chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "alias"}]
    )
    assert raw.headers["x-unigate-model"] == "gpt-4o-mini"  # routed by the gateway
    assert [m.id for m in client.models.list() if m.owned_by != "unigate"] == ["gpt-4o-mini"]  # auto names aside


def test_key_permissions_apply(gateway: GatewayProcess) -> None:
    _, secret = new_key(gateway, models=["gpt-4o-mini"])
    client = openai.OpenAI(base_url=f"{gateway.url}/openai", api_key=secret, max_retries=0)
    client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "ok"}])
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "no"}])
    with pytest.raises(openai.PermissionDeniedError):
        client.models.list()
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=f"{gateway.url}/openai", api_key="sk-wrong", max_retries=0).models.list()


def test_dot_segments_are_refused(gateway: GatewayProcess) -> None:
    reply = httpx.get(f"{gateway.url}/openai/%2e%2e/admin/keys", headers={"authorization": f"Bearer {MASTER}"})
    assert reply.status_code == 400 and json.loads(reply.text)["error"]["code"] == "invalid_path"
