"""anthropic: the provider end to end over real HTTP (recordings replayed, the shell's I/O).

Anthropic translation checked against recorded real traffic, plus a real-HTTP replay upstream.

Each ``Case`` is an OpenAI-format conversation with the same meaning as one recorded exchange
(or a multi-turn run of them, where later turns send back what earlier replies returned, as a
client would). ``to_native`` must produce the recorded request body; the recorded reply must come
back with the recorded text, tool calls, reasoning, finish reason and usage.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest
from openai.types.chat import ChatCompletion

from tests.providers.anthropic.support import (
    CASES,
    EMPTY_OBJECT,
    TOOL_STREAM,
    Case,
    check_message,
    collect_stream,
    conversation,
    deployment,
    error_body,
    fn_tool,
    native,
)
from tests.providers.conftest import RECORDINGS, recorded_request_body, recorded_response_body
from unigate.errors import (
    UpstreamRateLimited,
    UpstreamServerError,
)
from unigate.providers import anthropic
from unigate.providers.anthropic import (
    AnthropicProvider,
    from_native,
)

FOLDER = RECORDINGS / "anthropic"


# Recordings (or single interactions, "file#index") this provider deliberately does not translate.
UNSUPPORTED = {
    "test_anthropic_model_usage_limit_exceeded.yaml": "only calls count_tokens (token counting, not chat)",
    "test_anthropic_model_usage_limit_not_exceeded.yaml#0": "/v1/messages/count_tokens call (token counting)",
    "test_anthropic_server_tool_pass_history_to_another_provider.yaml": (
        "server-side web_search tool (run by Anthropic; no chat equivalent); #1 is OpenAI Responses API"
    ),
    "test_anthropic_server_tool_receive_history_from_another_provider.yaml": (
        "server-side code_execution tool and its result blocks; #0 is Gemini generateContent"
    ),
    "test_anthropic_model_thinking_part_from_other_model.yaml#0": "OpenAI Responses API call, not Anthropic",
}


def sse_text(events: list[tuple[str, dict[str, Any]]]) -> str:
    return "".join(f"event: {name}\ndata: {json.dumps(data)}\n\n" for name, data in events)


def test_messages_system_tools_and_merging() -> None:
    body = native(
        {
            "messages": [
                {"role": "system", "content": "A"},
                {"role": "developer", "content": [{"type": "text", "text": "B"}]},
                {"role": "user", "content": "hi"},
                {
                    "role": "user",
                    "content": [{"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBO"}}],
                },
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {"id": "t1", "type": "function", "function": {"name": "f", "arguments": '{"x": 1}'}},
                        {"id": "t2", "type": "function", "function": {"name": "f", "arguments": '{"x": 2}'}},
                    ],
                },
                {"role": "tool", "tool_call_id": "t1", "content": [{"type": "text", "text": "one"}]},
                {"role": "tool", "tool_call_id": "t2", "content": "two"},
                {"role": "user", "content": "thanks"},
            ],
            "tools": [fn_tool("f", {"type": "object", "properties": {"x": {"type": "integer"}}})],
            "tool_choice": "required",
            "parallel_tool_calls": False,
            "stop": "END",
            "max_completion_tokens": 100,
            "top_p": 0.5,
            "user": "u-1",
        }
    )
    assert body["system"] == "A\n\nB"
    assert body["messages"] == [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "hi"},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBO"}},
            ],
        },
        {
            "role": "assistant",
            "content": [
                {"type": "tool_use", "id": "t1", "name": "f", "input": {"x": 1}},
                {"type": "tool_use", "id": "t2", "name": "f", "input": {"x": 2}},
            ],
        },
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "t1",
                    "content": [{"type": "text", "text": "one"}],
                    "is_error": False,
                },
                {"type": "tool_result", "tool_use_id": "t2", "content": "two", "is_error": False},
                {"type": "text", "text": "thanks"},
            ],
        },
    ]
    assert body["tool_choice"] == {"type": "any", "disable_parallel_tool_use": True}
    assert body["tools"][0]["input_schema"]["properties"] == {"x": {"type": "integer"}}
    assert (body["stop_sequences"], body["max_tokens"], body["top_p"]) == (["END"], 100, 0.5)
    assert body["metadata"] == {"user_id": "u-1"} and body["stream"] is False


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ("none", {"type": "none"}),
        ("auto", {"type": "auto"}),
        ({"type": "function", "function": {"name": "f"}}, {"type": "tool", "name": "f"}),
    ],
)
def test_tool_choice(choice: Any, expected: dict[str, Any]) -> None:
    body = native(
        {
            "messages": [{"role": "user", "content": "x"}],
            "tools": [fn_tool("f", EMPTY_OBJECT)],
            "tool_choice": choice,
        }
    )
    assert body["tool_choice"] == expected


def test_reasoning_effort_becomes_thinking_budget_on_thinking_models() -> None:
    messages = [{"role": "user", "content": "x"}]
    body = native({"messages": messages, "reasoning_effort": "high"}, "claude-sonnet-4-5")
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 4096}
    assert body["max_tokens"] > 4096 and "output_config" not in body
    capped = native({"messages": messages, "reasoning_effort": "high", "max_tokens": 3000}, "claude-sonnet-4-5")
    assert capped["thinking"]["budget_tokens"] < capped["max_tokens"] == 3000
    assert "thinking" not in native({"messages": messages, "reasoning_effort": "low"}, "claude-3-5-haiku-latest")
    effort = native({"messages": messages, "reasoning_effort": "minimal"}, "claude-opus-4-5")
    assert effort["output_config"] == {"effort": "low"} and "thinking" not in effort
    forced = native({"messages": messages, "reasoning_effort": "low"}, "my-claude-finetune", reasoning_mode="effort")
    assert forced["output_config"] == {"effort": "low"}


def test_derived_thinking_respects_anthropic_constraints() -> None:
    messages = [{"role": "user", "content": "x"}]
    sampled = native({"messages": messages, "reasoning_effort": "medium", "temperature": 0.2, "top_k": 5})
    assert sampled["thinking"]["budget_tokens"] == 2048
    assert "temperature" not in sampled and "top_k" not in sampled
    forced = native(
        {
            "messages": messages,
            "reasoning_effort": "medium",
            "tools": [fn_tool("f", EMPTY_OBJECT)],
            "tool_choice": "required",
        }
    )
    assert "thinking" not in forced and forced["tool_choice"] == {"type": "any"}


def test_default_max_tokens() -> None:
    assert anthropic.default_max_tokens("claude-sonnet-4-5-20250929") == 4096
    assert anthropic.default_max_tokens("claude-3-haiku-20240307") == 4096
    assert anthropic.default_max_tokens("some-future-claude") == 4096


def test_media_blocks() -> None:
    pdf = {"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBERi0=", "filename": "a.pdf"}}
    body = native({"messages": [{"role": "user", "content": [pdf]}]})
    assert body["messages"][0]["content"] == [
        {
            "type": "document",
            "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0="},
        }
    ]


def _without_volatile(response: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in response.items() if k != "created"}


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
async def test_end_to_end_replay(case: Case, provider: AnthropicProvider, replay_server: Any) -> None:
    used, requests = conversation(case)
    base = await replay_server(used)
    dep = deployment(case.model, api_base=base)
    for turn, interaction, request in zip(case.turns, used, requests, strict=True):
        if request.get("stream"):
            chunks = [c async for c in provider.chat_stream(request, dep)]
            got = collect_stream(chunks)
            message = {"content": got["content"], "reasoning_content": got["reasoning"], "tool_calls": []}
            check_message(turn, message, got["finish"], got["usage"])
        else:
            response = await provider.chat(request, dep)
            ChatCompletion.model_validate(response)
            expected = from_native(recorded_response_body(interaction), "claude")
            assert _without_volatile(response) == _without_volatile(expected)
            choice = response["choices"][0]
            check_message(turn, choice["message"], choice["finish_reason"], response["usage"])
    assert len(replay_server.received) == len(used)
    for received, interaction in zip(replay_server.received, used, strict=True):
        assert (received.method, received.path) == ("POST", "/v1/messages")
        assert received.headers["x-api-key"] == "sk-ant-test"
        assert received.headers["anthropic-version"] == "2023-06-01"
        assert received.headers["content-type"] == "application/json"
        assert received.json() == recorded_request_body(interaction)


def _interaction(status: int, body: Any, headers: dict[str, str] | None = None, sse: bool = False) -> dict[str, Any]:
    response: dict[str, Any] = {
        "status": {"code": status},
        "headers": {k: [v] for k, v in (headers or {}).items()},
    }
    if sse:
        response["headers"]["content-type"] = ["text/event-stream"]
        response["body"] = {"string": body}
    else:
        response["parsed_body"] = body
    return {"request": {}, "response": response}


async def test_end_to_end_errors(provider: AnthropicProvider, replay_server: Any) -> None:
    request = {"model": "claude", "messages": [{"role": "user", "content": "hi"}]}
    overloaded_stream = sse_text(
        [
            TOOL_STREAM[0],
            ("error", {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}),
        ]
    )
    base = await replay_server(
        [
            _interaction(429, orjson.loads(error_body("rate_limit_error", "slow down")), {"retry-after": "7"}),
            _interaction(529, orjson.loads(error_body("overloaded_error", "Overloaded"))),
            _interaction(200, overloaded_stream, sse=True),
            _interaction(200, sse_text(TOOL_STREAM), sse=True),
        ]
    )
    dep = deployment("claude-sonnet-4-5", api_base=base)
    with pytest.raises(UpstreamRateLimited) as limited:
        await provider.chat(request, dep)
    assert limited.value.retry_after == 7.0
    with pytest.raises(UpstreamServerError):
        [c async for c in provider.chat_stream(request, dep)]
    received: list[dict[str, Any]] = []
    with pytest.raises(UpstreamServerError):
        async for chunk in provider.chat_stream(request, dep):
            received.append(chunk)
    assert received and received[0]["choices"][0]["delta"]["role"] == "assistant"
    got = collect_stream([c async for c in provider.chat_stream({**request, "stream": True}, dep)])
    assert [c["name"] for c in got["tool_calls"]] == ["get_weather", "get_time"] and got["finish"] == "tool_calls"
    assert replay_server.received[-1].json()["stream"] is True


def test_every_recording_is_covered_or_listed() -> None:
    covered = {c.file for c in CASES} | {"test_anthropic_explicit_effort_xhigh_unsupported_model_errors.yaml"}
    listed = {name.split("#")[0] for name in UNSUPPORTED}
    assert {p.name for p in Path(FOLDER).glob("*.yaml")} <= covered | listed
