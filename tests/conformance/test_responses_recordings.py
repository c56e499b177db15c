"""Every recorded OpenAI Responses API exchange (``POST /v1/responses`` in the vendored
recordings) replayed through a real gateway: the official ``openai`` SDK sends the recorded
request to the gateway's ``/v1/responses``; the gateway's OpenAI deployment (which has the
Responses API natively) must forward it unchanged to a replay upstream serving the recorded
answer, and the SDK must get that answer back (output items and usage; streams event by event)
under the gateway's own response id."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import openai
import pytest
import yaml

from tests.conformance.replay import ReplayUpstream
from tests.support.gateway_process import GatewayProcess
from tests.support.paths import RECORDINGS

KEY = "sk-responses-conformance"


def _cases() -> list[tuple[str, dict[str, Any]]]:
    cases = []
    for path in sorted(RECORDINGS.glob("*/*.yaml")):
        for index, interaction in enumerate(yaml.safe_load(path.read_text())["interactions"]):
            request = interaction["request"]
            if request["method"] == "POST" and urlsplit(request["uri"]).path.endswith("/v1/responses"):
                cases.append((f"{path.parent.name}/{path.name}#{index}", interaction))
    return cases


CASES = _cases()
MODELS = sorted({i["request"]["parsed_body"]["model"] for _, i in CASES})


def test_the_recordings_hold_responses_api_traffic() -> None:
    assert len(CASES) >= 8
    assert any(i["request"]["parsed_body"].get("stream") for _, i in CASES)


@pytest.fixture(scope="module")
def upstream() -> Iterator[ReplayUpstream]:
    server = ReplayUpstream()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def gateway(upstream: ReplayUpstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    deployment = {"provider": "openai", "api_base": upstream.url + "/v1", "api_key": "sk-up"}
    config = {
        "local_model": {"enabled": False},
        "discover_providers": False,
        "server": {"master_key": KEY},
        "models": [{"name": m, "deployments": [{**deployment, "model": m}], "routing": {"retries": 0}} for m in MODELS],
    }
    process = GatewayProcess(config=config, workdir=tmp_path_factory.mktemp("responses-conformance")).start()
    yield process
    process.stop()


def _recorded_events(response: dict[str, Any]) -> list[dict[str, Any]]:
    text = response["body"]["string"]
    text = text.decode() if isinstance(text, bytes) else text
    events = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        data = [line[6:] for line in block.splitlines() if line.startswith("data: ")]
        if data and data[0] != "[DONE]":
            events.append(json.loads("\n".join(data)))
    return events


def _without(value: dict[str, Any], *names: str) -> dict[str, Any]:
    return {k: v for k, v in value.items() if k not in names}


@pytest.mark.parametrize(("name", "interaction"), CASES, ids=[name for name, _ in CASES])
def test_recorded_exchange_passes_through(
    gateway: GatewayProcess, upstream: ReplayUpstream, name: str, interaction: dict[str, Any]
) -> None:
    request = interaction["request"]["parsed_body"]
    upstream.serve(interaction["response"])
    client = openai.OpenAI(base_url=gateway.base_url, api_key=KEY, max_retries=0)
    if request.get("stream"):
        events = list(client.responses.create(**request))
        recorded = _recorded_events(interaction["response"])
        assert [e.type for e in events] == [e["type"] for e in recorded]
        for got, want in zip(events, recorded, strict=True):
            if "response" in want:  # the gateway's id and public model name; the rest unchanged
                assert got.response.id.startswith("resp_") and got.response.id != want["response"]["id"]
                assert got.response.model == request["model"]
                ours = ("id", "model", "store", "previous_response_id", "usage")
                assert _without(got.response.to_dict(), *ours) == _without(want["response"], *ours)
            else:
                assert got.to_dict() == want
    else:
        raw = client.responses.with_raw_response.create(**request)
        response = raw.parse()  # the SDK reads it
        body = raw.http_response.json()
        recorded = interaction["response"]["parsed_body"]
        assert body["id"].startswith("resp_") and body["model"] == request["model"]
        assert body["output"] == recorded["output"]
        assert response.output_text == "".join(
            part.get("text", "")
            for item in recorded["output"]
            if item.get("type") == "message"
            for part in item.get("content") or ()
            if part.get("type") == "output_text"
        )
        assert _without(body["usage"], "cost") == recorded["usage"]
    sent = upstream.received[-1]
    assert sent.path == "/v1/responses"
    assert sent.headers["authorization"] == "Bearer sk-up"
    assert sent.json() == request  # forwarded without translation
