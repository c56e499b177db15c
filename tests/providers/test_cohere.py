"""Cohere v2 chat translation checked against recorded real traffic, plus a real-HTTP replay upstream.

The recordings hold non-streamed chats (plain, system prompt, reasoning model with thinking in
the history). Streaming, tool calls and errors have no recording: they are checked against the
event and body shapes of Cohere's v2 API reference ("Chat with Streaming", "Errors").
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from unigate.errors import (
    ContextWindowExceeded,
    ProviderError,
    UpstreamConnectionError,
    UpstreamRateLimited,
    UpstreamServerError,
)
from unigate.providers import cohere
from unigate.providers.base import ProviderContext
from unigate.providers.cohere import CohereProvider, StreamTranslator, from_native, parse_error, to_native
from unigate.types import Deployment

from .conftest import RECORDINGS, load_recording, recorded_request_body, recorded_response_body

UNSUPPORTED = {
    "test_cohere_model_thinking_part.yaml#0": "an OpenAI Responses API call (first turn of the history)",
}


def deployment(model: str, api_base: str | None = None) -> Deployment:
    return Deployment(
        id="command#0",
        public_name="command",
        provider="cohere",
        model=model,
        api_base=api_base,
        api_key="co-test",
    )


def _thinking_history() -> list[dict[str, Any]]:
    # The first answer came from an OpenAI reasoning model; a client replays its reasoning summary
    # as reasoning_content and its text as content.
    previous = recorded_response_body(load_recording("cohere", "test_cohere_model_thinking_part.yaml")[0])
    summary = "\n\n".join(s["text"] for o in previous["output"] if o["type"] == "reasoning" for s in o["summary"])
    text = "".join(c["text"] for o in previous["output"] if o["type"] == "message" for c in o["content"])
    return [
        {"role": "user", "content": "How do I cross the street?"},
        {"role": "assistant", "content": text, "reasoning_content": summary},
        {
            "role": "user",
            "content": "Considering the way to cross the street, analogously, how do I cross the river?",
        },
    ]


# (file, interaction index, model, messages, text prefix, reasoning?, (prompt, completion) billed)
CASES: list[tuple[str, int, str, Any, str, bool, tuple[int, int]]] = [
    (
        "test_request_simple_success_with_vcr.yaml",
        0,
        "command-r7b-12-2024",
        [{"role": "user", "content": "hello"}],
        "Hello! How can I assist you today?",
        False,
        (1, 9),
    ),
    (
        "test_cohere_model_instructions.yaml",
        0,
        "command-r7b-12-2024",
        [
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": "What is the capital of France?"},
        ],
        "The capital of France is Paris.",
        False,
        (13, 61),
    ),
    (
        "test_cohere_model_thinking_part.yaml",
        1,
        "command-a-reasoning-08-2025",
        _thinking_history,
        "Crossing a river safely requires careful planning",
        True,
        (431, 661),
    ),
]


def _messages(spec: Any) -> list[dict[str, Any]]:
    return spec() if callable(spec) else spec


@pytest.mark.parametrize("case", CASES, ids=lambda c: c[0].removesuffix(".yaml"))
def test_request_matches_recording(case: tuple[Any, ...]) -> None:
    name, index, model, messages, *_ = case
    interaction = load_recording("cohere", name)[index]
    assert interaction["request"]["uri"] == "https://api.cohere.com/v2/chat"
    request = {"model": "command", "messages": _messages(messages)}
    assert to_native(request, deployment(model)) == recorded_request_body(interaction)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c[0].removesuffix(".yaml"))
def test_response_translation(case: tuple[Any, ...]) -> None:
    name, index, _model, _messages_spec, prefix, reasoning, usage = case
    native = recorded_response_body(load_recording("cohere", name)[index])
    response = from_native(native, "command")
    ChatCompletion.model_validate(response)
    message = response["choices"][0]["message"]
    assert message["content"].startswith(prefix)
    assert response["choices"][0]["finish_reason"] == "stop"
    assert response["id"] == native["id"] and response["model"] == "command"
    assert (response["usage"]["prompt_tokens"], response["usage"]["completion_tokens"]) == usage
    if reasoning:
        assert message["reasoning_content"].startswith("Okay, the user is asking how to cross a river")
        assert "Okay, the user" not in message["content"]
    else:
        assert "reasoning_content" not in message


def test_tools_and_tool_history() -> None:
    request = {
        "model": "command",
        "messages": [
            {"role": "developer", "content": "Be brief."},
            {"role": "user", "content": [{"type": "text", "text": "Weather in Paris?"}]},
            {
                "role": "assistant",
                "content": "I will look up the weather.",
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "weather", "arguments": '{"city":"Paris"}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": "21C"},
        ],
        "tools": [
            {
                "type": "function",
                "function": {
                    "name": "weather",
                    "description": "Weather by city",
                    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
                    "strict": True,
                },
            },
            {"type": "function", "function": {"name": "other", "parameters": {"type": "object"}}},
        ],
        "tool_choice": {"type": "function", "function": {"name": "weather"}},
        "top_p": 0.9,
        "top_k": 5,
        "stop": ["END"],
        "max_completion_tokens": 50,
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "x", "schema": {"type": "object"}},
        },
        "reasoning_effort": "none",
        "stream": True,
    }
    body = to_native(request, deployment("command-a-03-2025"))
    assert body == {
        "model": "command-a-03-2025",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": [{"type": "text", "text": "Weather in Paris?"}]},
            {
                "role": "assistant",
                "tool_plan": "I will look up the weather.",
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "weather", "arguments": '{"city":"Paris"}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": "21C"},
        ],
        "tools": [
            {
                "type": "function",
                "function": {
                    "name": "weather",
                    "description": "Weather by city",
                    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
                },
            }
        ],
        "strict_tools": True,
        "tool_choice": "REQUIRED",
        "p": 0.9,
        "k": 5,
        "stop_sequences": ["END"],
        "max_tokens": 50,
        "response_format": {"type": "json_object", "json_schema": {"type": "object"}},
        "thinking": {"type": "disabled"},
        "stream": True,
    }
    assert (
        to_native({"messages": [], "tools": request["tools"], "tool_choice": "none"}, deployment("m"))["tool_choice"]
        == "NONE"
    )


def test_tool_call_response() -> None:
    native = {
        "id": "r1",
        "finish_reason": "TOOL_CALL",
        "message": {
            "role": "assistant",
            "tool_plan": "I will check the weather.",
            "tool_calls": [
                {
                    "id": "weather_abc",
                    "type": "function",
                    "function": {"name": "weather", "arguments": '{"city":"Paris"}'},
                }
            ],
        },
        "usage": {"billed_units": {"input_tokens": 20, "output_tokens": 11}, "tokens": {"input_tokens": 900}},
    }
    response = from_native(native, "command")
    ChatCompletion.model_validate(response)
    message = response["choices"][0]["message"]
    assert message["content"] == "I will check the weather."
    assert message["tool_calls"] == [
        {
            "id": "weather_abc",
            "type": "function",
            "function": {"name": "weather", "arguments": '{"city":"Paris"}'},
        }
    ]
    assert response["choices"][0]["finish_reason"] == "tool_calls"
    assert response["usage"] == {"prompt_tokens": 20, "completion_tokens": 11, "total_tokens": 31}
    native["finish_reason"] = "MAX_TOKENS"
    assert from_native(native, "command")["choices"][0]["finish_reason"] == "length"
    native["finish_reason"] = "ERROR"
    with pytest.raises(UpstreamServerError):
        from_native(native, "command")


# A v2 stream in the documented event shapes: thinking, tool plan, two tool calls (one without
# arguments), then a text-only message-end carrying finish_reason and usage.
STREAM_EVENTS: list[dict[str, Any]] = [
    {
        "id": "abc-123",
        "type": "message-start",
        "delta": {
            "message": {
                "role": "assistant",
                "content": [],
                "tool_plan": "",
                "tool_calls": [],
                "citations": [],
            }
        },
    },
    {
        "type": "content-start",
        "index": 0,
        "delta": {"message": {"content": {"type": "thinking", "thinking": ""}}},
    },
    {"type": "content-delta", "index": 0, "delta": {"message": {"content": {"thinking": "Need weather."}}}},
    {"type": "content-end", "index": 0},
    {"type": "tool-plan-delta", "delta": {"message": {"tool_plan": "I will check"}}},
    {"type": "tool-plan-delta", "delta": {"message": {"tool_plan": " the weather."}}},
    {
        "type": "tool-call-start",
        "index": 0,
        "delta": {
            "message": {
                "tool_calls": {
                    "id": "weather_1",
                    "type": "function",
                    "function": {"name": "weather", "arguments": ""},
                }
            }
        },
    },
    {
        "type": "tool-call-delta",
        "index": 0,
        "delta": {"message": {"tool_calls": {"function": {"arguments": '{"city":'}}}},
    },
    {
        "type": "tool-call-delta",
        "index": 0,
        "delta": {"message": {"tool_calls": {"function": {"arguments": '"Paris"}'}}}},
    },
    {"type": "tool-call-end", "index": 0},
    {
        "type": "tool-call-start",
        "index": 1,
        "delta": {
            "message": {
                "tool_calls": {
                    "id": "time_2",
                    "type": "function",
                    "function": {"name": "time", "arguments": ""},
                }
            }
        },
    },
    {"type": "tool-call-end", "index": 1},
    {
        "type": "message-end",
        "delta": {
            "finish_reason": "TOOL_CALL",
            "usage": {
                "billed_units": {"input_tokens": 37, "output_tokens": 21},
                "tokens": {"input_tokens": 1020, "output_tokens": 40},
            },
        },
    },
]

TEXT_STREAM: list[dict[str, Any]] = [
    {"id": "t-1", "type": "message-start", "delta": {"message": {"role": "assistant"}}},
    {"type": "content-start", "index": 0, "delta": {"message": {"content": {"type": "text", "text": ""}}}},
    {"type": "content-delta", "index": 0, "delta": {"message": {"content": {"text": "Hello"}}}},
    {"type": "content-delta", "index": 0, "delta": {"message": {"content": {"text": " there"}}}},
    {"type": "content-end", "index": 0},
    {
        "type": "message-end",
        "delta": {
            "finish_reason": "COMPLETE",
            "usage": {"billed_units": {"input_tokens": 5, "output_tokens": 2}},
        },
    },
]


def sse_text(events: list[dict[str, Any]]) -> str:
    return "".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n" for e in events)


def collect(chunks: list[dict[str, Any]]) -> dict[str, Any]:
    content, reasoning, calls = [], [], {}
    finish = usage = None
    for chunk in chunks:
        ChatCompletionChunk.model_validate(chunk)
        usage = chunk.get("usage") or usage
        for choice in chunk["choices"]:
            delta = choice["delta"]
            content.append(delta.get("content") or "")
            reasoning.append(delta.get("reasoning_content") or "")
            for call in delta.get("tool_calls") or []:
                slot = calls.setdefault(call["index"], {"id": None, "name": None, "arguments": ""})
                slot["id"] = call.get("id") or slot["id"]
                slot["name"] = (call.get("function") or {}).get("name") or slot["name"]
                slot["arguments"] += (call.get("function") or {}).get("arguments") or ""
            finish = choice.get("finish_reason") or finish
    tool_calls = [calls[i] for i in sorted(calls)]
    return {
        "content": "".join(content),
        "reasoning": "".join(reasoning),
        "tool_calls": tool_calls,
        "finish": finish,
        "usage": usage,
    }


def test_stream_translation_with_tools_and_thinking() -> None:
    translator = StreamTranslator("command")
    chunks = [c for e in STREAM_EVENTS for c in translator.feed(e["type"], orjson.dumps(e))]
    assert translator.done
    got = collect(chunks)
    assert got["reasoning"] == "Need weather."
    assert got["content"] == "I will check the weather."
    assert got["tool_calls"] == [
        {"id": "weather_1", "name": "weather", "arguments": '{"city":"Paris"}'},
        {"id": "time_2", "name": "time", "arguments": "{}"},
    ]
    assert got["finish"] == "tool_calls"
    assert got["usage"] == {"prompt_tokens": 37, "completion_tokens": 21, "total_tokens": 58}
    assert chunks[-1]["choices"] == [] and {c["id"] for c in chunks} == {"abc-123"}


def test_stream_errors() -> None:
    translator = StreamTranslator("command")
    translator.feed("message-start", orjson.dumps(TEXT_STREAM[0]))
    assert translator.feed(None, b"[DONE]") == []
    with pytest.raises(UpstreamConnectionError):
        translator.close()
    failed = {"type": "message-end", "delta": {"finish_reason": "ERROR", "error": "internal failure"}}
    with pytest.raises(UpstreamServerError, match="internal failure"):
        translator.feed("message-end", orjson.dumps(failed))


@pytest.mark.parametrize(
    ("status", "body", "headers", "expected", "http_status"),
    [
        (
            429,
            {"message": "You are using a Trial key, which is limited to 10 API calls / minute."},
            {"retry-after": "3"},
            UpstreamRateLimited,
            429,
        ),
        (
            400,
            {"message": "too many tokens: size limit exceeded by 1200 tokens. Try using shorter inputs."},
            {},
            ContextWindowExceeded,
            400,
        ),
        (
            400,
            {"id": "e1", "message": "invalid request: message must be at least 1 token long"},
            {},
            ProviderError,
            400,
        ),
        (401, {"message": "invalid api token"}, {}, ProviderError, 502),
        (498, {"message": "invalid api token"}, {}, ProviderError, 502),
        (500, {"message": "internal server error"}, {}, UpstreamServerError, 502),
        (503, {"message": "service unavailable"}, {}, UpstreamServerError, 502),
    ],
)
def test_error_mapping(
    status: int, body: dict[str, Any], headers: dict[str, str], expected: type, http_status: int
) -> None:
    error = parse_error(status, orjson.dumps(body), headers)
    assert type(error) is expected
    assert error.provider == "cohere" and error.http_status == http_status
    assert body["message"] in error.message
    if headers:
        assert error.retry_after == 3.0


def test_urls() -> None:
    assert cohere.chat_url(deployment("m")) == "https://api.cohere.com/v2/chat"
    assert cohere.chat_url(deployment("m", "http://proxy.local/v2/")) == "http://proxy.local/v2/chat"


# ---------------------------------------------------------------------------------------------
# End to end over real HTTP


@pytest.fixture
async def provider() -> Any:
    async with aiohttp.ClientSession() as session:
        yield CohereProvider(ProviderContext(http=session))


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
