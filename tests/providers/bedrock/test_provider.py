"""bedrock: the provider end to end over real HTTP (recordings replayed, the shell's I/O).

Bedrock Converse translation checked against real recorded traffic, plus the provider over real
HTTP (SigV4 with fixed fake credentials, bearer API keys, binary event streams).
"""

from __future__ import annotations

import binascii
import json
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp import web
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests.providers.bedrock.support import (
    CASES,
    UNSUPPORTED,
    _case,
    _collect,
    _decode_stream,
    _deployment,
    _expected,
    _interactions,
    _reply,
    normalize,
    openai_request,
)
from tests.providers.conftest import RECORDINGS, recorded_request_body
from unigate.errors import (
    UpstreamRateLimited,
)
from unigate.providers.base import ProviderContext
from unigate.providers.bedrock import (
    BedrockProvider,
    BedrockStreamState,
    from_native,
    from_native_event,
    native_url,
)
from unigate.types import Deployment

# The recorded client's stopReason → the OpenAI finish_reason a client must see.


def test_every_recording_is_covered_or_listed() -> None:
    files = {p.name for p in (RECORDINGS / "bedrock").glob("*.yaml")}
    listed = {key for key in UNSUPPORTED if "#" not in key}
    assert files - set(CASES) - listed == set()
    assert set(CASES) <= files and not set(CASES) & listed


def _check(result: dict[str, Any], expected: dict[str, Any]) -> None:
    message = result["message"]
    assert (message.get("content") or "") == expected["text"]
    assert (message.get("reasoning_content") or "") == expected["reasoning"]
    calls = message.get("tool_calls") or []
    assert [c["function"]["name"] for c in calls] == [name for name, _ in expected["calls"]]
    for call, (_, args) in zip(calls, expected["calls"], strict=True):
        assert call["id"]
        if args is not None:
            assert json.loads(call["function"]["arguments"]) == args
    assert result["finish_reason"] == expected["finish"]
    usage = result["usage"]
    assert usage["prompt_tokens"] == expected["prompt"]
    assert usage["completion_tokens"] == expected["completion"]
    assert usage["total_tokens"] == expected["prompt"] + expected["completion"]
    assert usage.get("prompt_tokens_details", {}).get("cached_tokens", 0) == expected["cached"]


def _translate(interaction: dict[str, Any]) -> dict[str, Any]:
    body = _reply(interaction)
    if isinstance(body, dict):
        response = from_native(body, "public-bedrock")
        return {**response["choices"][0], "usage": response["usage"]}
    state = BedrockStreamState(response_id="chatcmpl-x", model="public-bedrock", created=1)
    chunks = [c for kind, payload in _decode_stream(body) if (c := from_native_event(kind, payload, state))]
    return _collect(chunks)


@pytest.mark.parametrize("name", sorted(n for n, c in CASES.items() if "error" not in c))
def test_from_native_matches_recorded_reply(name: str) -> None:
    for _, interaction in _interactions(name):
        _check(_translate(interaction), _expected(interaction))


@pytest.fixture
def fake_aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> Credentials:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDTESTTESTTEST")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret/test/key")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "session-token")
    monkeypatch.delenv("AWS_BEARER_TOKEN_BEDROCK", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    return Credentials("AKIDTESTTESTTEST", "secret/test/key", "session-token")


def _assert_signed(got: Any, url: str, region: str, credentials: Credentials) -> None:
    """Recompute the SigV4 signature over what the server received and compare."""
    headers = {k.lower(): v for k, v in got.headers.items()}
    authorization = headers["authorization"]
    assert authorization.startswith(
        f"AWS4-HMAC-SHA256 Credential=AKIDTESTTESTTEST/{headers['x-amz-date'][:8]}/{region}/bedrock/aws4_request"
    )
    assert headers["x-amz-security-token"] == "session-token"
    signed_names = authorization.split("SignedHeaders=", 1)[1].split(",", 1)[0].split(";")
    request = AWSRequest(
        method="POST", url=url, data=got.body, headers={name: headers[name] for name in signed_names if name != "host"}
    )
    request.context["timestamp"] = headers["x-amz-date"]
    auth = SigV4Auth(credentials.get_frozen_credentials(), "bedrock", region)
    expected = auth.signature(auth.string_to_sign(request, auth.canonical_request(request)), request)
    assert authorization.endswith("Signature=" + expected)


@pytest.mark.parametrize("name", sorted(CASES))
async def test_provider_over_http(name: str, replay_server: Any, fake_aws: Credentials) -> None:
    interactions = _interactions(name)
    base = await replay_server([it for _, it in interactions])
    async with aiohttp.ClientSession() as http:
        provider = BedrockProvider(ProviderContext(http=http))
        for _, interaction in interactions:
            uri = interaction["request"]["uri"]
            case = _case(name, uri)
            request = {**openai_request(recorded_request_body(interaction)), **case.get("params", {})}
            deployment = _deployment(uri, case.get("options"), api_base=base)
            stream = uri.endswith("/converse-stream")
            before = len(replay_server.received)
            if "error" in case:
                with pytest.raises(case["error"]) as info:
                    if stream:
                        async for _ in provider.chat_stream(request, deployment):
                            pass
                    else:
                        await provider.chat(request, deployment)
                assert "The provided model identifier is invalid." in info.value.message
                assert info.value.http_status == 400 and info.value.provider == "bedrock"
            elif stream:
                _check(_collect([c async for c in provider.chat_stream(request, deployment)]), _expected(interaction))
            else:
                response = await provider.chat(request, deployment)
                assert response["model"] == "public-bedrock"
                _check({**response["choices"][0], "usage": response["usage"]}, _expected(interaction))
            got = replay_server.received[before]
            assert got.path == "/" + uri.split(".amazonaws.com/", 1)[1].replace("%3A", ":").replace("%2F", "/")
            assert normalize(got.json()) == normalize(recorded_request_body(interaction))
            url = native_url(deployment, stream, deployment.option("region"))
            _assert_signed(got, url, deployment.option("region"), fake_aws)


async def test_model_id_stays_percent_encoded_on_the_wire_and_bearer_key(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[str, dict[str, str]]] = []

    async def handle(request: web.Request) -> web.Response:
        seen.append((request.raw_path, {k.lower(): v for k, v in request.headers.items()}))
        return web.json_response(
            {
                "output": {"message": {"role": "assistant", "content": [{"text": "hi"}]}},
                "stopReason": "end_turn",
                "usage": {"inputTokens": 1, "outputTokens": 1},
            }
        )

    app = web.Application()
    app.router.add_route("POST", "/{tail:.*}", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    monkeypatch.setenv("AWS_BEARER_TOKEN_BEDROCK", "bedrock-api-key")
    try:
        async with aiohttp.ClientSession() as http:
            provider = BedrockProvider(ProviderContext(http=http))
            for model in (
                "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
                "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/mi1dadi0g15f",
            ):
                deployment = Deployment(
                    id="b",
                    public_name="p",
                    provider="bedrock",
                    model=model,
                    api_base=f"http://127.0.0.1:{port}",
                    options=(("region", "eu-west-1"),),
                )
                reply = await provider.chat({"messages": [{"role": "user", "content": "hi"}]}, deployment)
                assert reply["choices"][0]["message"]["content"] == "hi"
    finally:
        await runner.cleanup()
    assert seen[0][0] == "/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/converse"
    assert (
        seen[1][0]
        == "/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Aapplication-inference-profile%2Fmi1dadi0g15f/converse"
    )
    assert seen[0][1]["authorization"] == "Bearer bedrock-api-key" and "x-amz-date" not in seen[0][1]


async def test_stream_exception_event_raises(fake_aws: Credentials, replay_server: Any) -> None:
    def message(headers: dict[str, str], payload: bytes) -> bytes:
        encoded = b"".join(
            bytes([len(k)]) + k.encode() + b"\x07" + len(v).to_bytes(2, "big") + v.encode() for k, v in headers.items()
        )
        total = 12 + len(encoded) + len(payload) + 4
        prelude = total.to_bytes(4, "big") + len(encoded).to_bytes(4, "big")
        prelude += binascii.crc32(prelude).to_bytes(4, "big")
        body = prelude + encoded + payload
        return body + binascii.crc32(body).to_bytes(4, "big")

    raw = message({":event-type": "messageStart", ":message-type": "event"}, b'{"role":"assistant"}') + message(
        {":exception-type": "throttlingException", ":message-type": "exception"}, b'{"message":"slow down"}'
    )
    base = await replay_server(
        [
            {
                "response": {
                    "status": {"code": 200},
                    "headers": {"content-type": "application/vnd.amazon.eventstream"},
                    "body": {"string": raw},
                }
            }
        ]
    )
    async with aiohttp.ClientSession() as http:
        provider = BedrockProvider(ProviderContext(http=http))
        deployment = Deployment(
            id="b",
            public_name="p",
            provider="bedrock",
            model="us.amazon.nova-micro-v1:0",
            api_base=base,
            options=(("region", "us-east-1"),),
        )
        got: list[dict[str, Any]] = []
        with pytest.raises(UpstreamRateLimited, match="slow down"):
            async for chunk in provider.chat_stream({"messages": [{"role": "user", "content": "hi"}]}, deployment):
                got.append(chunk)
    assert got and got[0]["choices"][0]["delta"]["role"] == "assistant"
    assert orjson.loads(replay_server.received[0].body)["messages"][0]["content"] == [{"text": "hi"}]
