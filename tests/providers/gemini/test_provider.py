"""gemini: the provider end to end over real HTTP (recordings replayed, the shell's I/O).

Gemini translation checked against real recorded traffic, plus the provider over real HTTP.

For every recording in the gemini folder (except those in ``UNSUPPORTED``) the test builds the
OpenAI-format request a client would send, checks ``to_native`` against the recorded request,
and feeds the recorded reply through ``from_native`` / the stream translator. The same cases
then run through :class:`GeminiProvider` against a replay server on 127.0.0.1.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest

from tests.providers.conftest import RECORDINGS, recorded_response_body
from tests.providers.gemini.support import CASES, UNSUPPORTED, _deployment, _gemini_interactions, user
from unigate.errors import (
    UpstreamRateLimited,
)
from unigate.providers.base import ProviderContext
from unigate.providers.gemini import (
    GeminiProvider,
    GeminiStreamState,
    from_native,
    from_native_event,
    to_native,
)
from unigate.types import Deployment


def test_every_recording_is_covered_or_listed() -> None:
    files = {p.name for p in (RECORDINGS / "gemini").glob("*.yaml")}
    listed = {key.split("#", 1)[0] for key in UNSUPPORTED if "#" not in key}
    assert files - set(CASES) - listed == set()
    assert set(CASES) <= files


def _recorded_parts(body: dict[str, Any]) -> tuple[str, str, list[tuple[str, dict[str, Any]]]]:
    text, thoughts, calls = "", "", []
    for part in body["candidates"][0]["content"].get("parts", []):
        if "functionCall" in part:
            calls.append((part["functionCall"]["name"], part["functionCall"].get("args", {})))
        elif part.get("thought"):
            thoughts += part["text"]
        else:
            text += part.get("text", "")
    return text, thoughts, calls


def _sse_events(raw: str) -> list[dict[str, Any]]:
    return [json.loads(block[6:]) for block in raw.replace("\r\n", "\n").split("\n\n") if block.startswith("data: ")]


def _expected(interaction: dict[str, Any]) -> dict[str, Any]:
    """Text, reasoning, tool calls, finish reason and usage the recorded reply should become."""
    body = recorded_response_body(interaction)
    events = _sse_events(body) if isinstance(body, str) else [body]
    text, thoughts, calls = "", "", []
    for event in events:
        t, th, c = _recorded_parts(event)
        text, thoughts, calls = text + t, thoughts + th, calls + c
    meta = events[-1]["usageMetadata"]
    reasoning = meta.get("thoughtsTokenCount", 0)
    native_finish = next(
        e["candidates"][0]["finishReason"] for e in reversed(events) if "finishReason" in e["candidates"][0]
    )
    assert native_finish == "STOP"
    return {
        "text": text,
        "reasoning": thoughts,
        "calls": calls,
        "finish": "tool_calls" if calls else "stop",
        "prompt": meta["promptTokenCount"],
        "completion": meta.get("candidatesTokenCount", 0) + reasoning,
        "reasoning_tokens": reasoning,
    }


def _collect(chunks: list[dict[str, Any]]) -> dict[str, Any]:
    text, reasoning, calls, finish, usage = "", "", [], None, None
    for chunk in chunks:
        assert chunk["object"] == "chat.completion.chunk"
        assert chunk["model"] == "public-gemini"
        for choice in chunk["choices"]:
            delta = choice["delta"]
            text += delta.get("content") or ""
            reasoning += delta.get("reasoning_content") or ""
            calls += delta.get("tool_calls") or []
            finish = choice["finish_reason"] or finish
        usage = chunk.get("usage") or usage
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"] == usage  # usage comes last, on its own
    message = {"content": text, "reasoning_content": reasoning or None, "tool_calls": calls}
    return {"message": message, "finish_reason": finish, "usage": usage}


def _check(result: dict[str, Any], expected: dict[str, Any]) -> None:
    message = result["message"]
    assert (message.get("content") or "") == expected["text"]
    assert (message.get("reasoning_content") or "") == expected["reasoning"]
    calls = message.get("tool_calls") or []
    assert [(c["function"]["name"], json.loads(c["function"]["arguments"])) for c in calls] == expected["calls"]
    assert all(c["id"] and c["type"] == "function" for c in calls)
    assert result["finish_reason"] == expected["finish"]
    usage = result["usage"]
    assert usage["prompt_tokens"] == expected["prompt"]
    assert usage["completion_tokens"] == expected["completion"]
    assert usage["total_tokens"] == expected["prompt"] + expected["completion"]
    assert usage.get("completion_tokens_details", {}).get("reasoning_tokens", 0) == expected["reasoning_tokens"]


def _translate_reply(interaction: dict[str, Any]) -> dict[str, Any]:
    body = recorded_response_body(interaction)
    if isinstance(body, dict):
        response = from_native(body, "public-gemini")
        assert response["object"] == "chat.completion" and response["model"] == "public-gemini"
        return {**response["choices"][0], "usage": response["usage"]}
    state = GeminiStreamState(response_id="chatcmpl-x", model="public-gemini", created=1)
    chunks = [c for e in _sse_events(body) if (c := from_native_event(orjson.dumps(e), state)) is not None]
    from unigate.providers.gemini.stream import stream_usage_chunk

    final = stream_usage_chunk(state)
    assert final is not None
    return _collect([*chunks, final])


@pytest.mark.parametrize("name", sorted(CASES))
def test_from_native_matches_recorded_reply(name: str) -> None:
    for _, interaction in _gemini_interactions(name):
        _check(_translate_reply(interaction), _expected(interaction))


@pytest.mark.parametrize("name", sorted(CASES))
async def test_provider_over_http(name: str, replay_server: Any) -> None:
    options, build = CASES[name]
    interactions = _gemini_interactions(name)
    base = await replay_server([it for _, it in interactions])
    async with aiohttp.ClientSession() as http:
        provider = GeminiProvider(ProviderContext(http=http))
        for request, (_, interaction) in zip(build(), interactions, strict=True):
            uri = interaction["request"]["uri"]
            deployment = _deployment(uri, options, api_base=base)
            received_before = len(replay_server.received)
            if ":streamGenerateContent" in uri:
                chunks = [c async for c in provider.chat_stream(request, deployment)]
                result = _collect(chunks)
            else:
                response = await provider.chat(request, deployment)
                result = {**response["choices"][0], "usage": response["usage"]}
            _check(result, _expected(interaction))
            got = replay_server.received[received_before]
            recorded_path = uri.split("googleapis.com", 1)[1]
            assert got.path + ("?" + got.query if got.query else "") == recorded_path.replace("%28", "(").replace(
                "%29", ")"
            )
            headers = {k.lower(): v for k, v in got.headers.items()}
            if options.get("vertex_project"):
                assert headers["authorization"] == "Bearer test-key"
                assert "x-goog-api-key" not in headers
            else:
                assert headers["x-goog-api-key"] == "test-key"
                assert "authorization" not in headers
            assert got.json() == json.loads(orjson.dumps(to_native(request, deployment)))


async def test_stream_error_before_first_chunk(replay_server: Any) -> None:
    error = {"error": {"code": 429, "status": "RESOURCE_EXHAUSTED", "message": "slow down"}}
    base = await replay_server([{"response": {"status": {"code": 429}, "headers": {}, "parsed_body": error}}])
    async with aiohttp.ClientSession() as http:
        provider = GeminiProvider(ProviderContext(http=http))
        deployment = Deployment(id="g", public_name="p", provider="gemini", model="gemini-2.5-flash", api_base=base)
        with pytest.raises(UpstreamRateLimited, match="slow down"):
            async for _ in provider.chat_stream({"messages": [user("hi")]}, deployment):
                pass
    assert replay_server.received[0].path == "/v1beta/models/gemini-2.5-flash:streamGenerateContent"
    assert replay_server.received[0].query == "alt=sse"


def test_recordings_folder_exists() -> None:
    assert Path(RECORDINGS / "gemini").is_dir()
