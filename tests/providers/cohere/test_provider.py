"""cohere: the provider end to end over real HTTP (recordings replayed, the shell's I/O).

Cohere v2 chat translation checked against recorded real traffic, plus a real-HTTP replay upstream.

The recordings hold non-streamed chats (plain, system prompt, reasoning model with thinking in
the history). Streaming, tool calls and errors have no recording: they are checked against the
event and body shapes of Cohere's v2 API reference ("Chat with Streaming", "Errors").
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from openai.types.chat import ChatCompletion

from tests.providers.cohere.support import CASES, STREAM_EVENTS, TEXT_STREAM, _messages, collect, deployment
from tests.providers.conftest import RECORDINGS, load_recording, recorded_request_body
from unigate.errors import (
    UpstreamConnectionError,
    UpstreamRateLimited,
)
from unigate.providers.cohere import CohereProvider

UNSUPPORTED = {
    "test_cohere_model_thinking_part.yaml#0": "an OpenAI Responses API call (first turn of the history)",
}


def sse_text(events: list[dict[str, Any]]) -> str:
    return "".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n" for e in events)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c[0].removesuffix(".yaml"))
async def test_end_to_end_replay(case: tuple[Any, ...], provider: CohereProvider, replay_server: Any) -> None:
    name, index, model, messages, prefix, _reasoning, usage = case
    interaction = load_recording("cohere", name)[index]
    base = await replay_server([interaction])
    response = await provider.chat({"model": "command", "messages": _messages(messages)}, deployment(model, base))
    ChatCompletion.model_validate(response)
    assert response["choices"][0]["message"]["content"].startswith(prefix)
    assert (response["usage"]["prompt_tokens"], response["usage"]["completion_tokens"]) == usage
    (received,) = replay_server.received
    assert (received.method, received.path) == ("POST", "/v2/chat")
    assert received.headers["authorization"] == "Bearer co-test"
    assert received.json() == recorded_request_body(interaction)


def _sse(events: list[dict[str, Any]], status: int = 200) -> dict[str, Any]:
    return {
        "request": {},
        "response": {
            "status": {"code": status},
            "headers": {"content-type": ["text/event-stream"]},
            "body": {"string": sse_text(events)},
        },
    }


async def test_end_to_end_stream_and_errors(provider: CohereProvider, replay_server: Any) -> None:
    rate_limited = {
        "request": {},
        "response": {
            "status": {"code": 429},
            "headers": {"retry-after": ["2"]},
            "parsed_body": {"message": "slow"},
        },
    }
    base = await replay_server([_sse(TEXT_STREAM), _sse(STREAM_EVENTS), _sse(TEXT_STREAM[:3]), rate_limited])
    dep = deployment("command-a-03-2025", base)
    request = {"model": "command", "messages": [{"role": "user", "content": "hi"}], "stream": True}
    text = collect([c async for c in provider.chat_stream(request, dep)])
    assert (text["content"], text["finish"], text["usage"]["total_tokens"]) == ("Hello there", "stop", 7)
    tools = collect([c async for c in provider.chat_stream(request, dep)])
    assert [c["name"] for c in tools["tool_calls"]] == ["weather", "time"]
    with pytest.raises(UpstreamConnectionError):
        [c async for c in provider.chat_stream(request, dep)]
    with pytest.raises(UpstreamRateLimited) as info:
        [c async for c in provider.chat_stream(request, dep)]
    assert info.value.retry_after == 2.0
    assert all(r.json()["stream"] is True for r in replay_server.received)
    assert replay_server.received[0].headers["accept"] == "text/event-stream"


def test_every_recording_is_covered_or_listed() -> None:
    covered = {c[0] for c in CASES} | {name.split("#")[0] for name in UNSUPPORTED}
    assert {p.name for p in Path(RECORDINGS / "cohere").glob("*.yaml")} <= covered
