"""The inbound Anthropic Messages translation (providers/anthropic/inbound.py), unit by unit.

End to end (the official SDK, a real gateway process, streaming, errors, recorded traffic) is in
tests/e2e/test_anthropic_sdk.py; the recorded-traffic round trip is also in tests/conformance.
"""

from __future__ import annotations

from typing import Any

import pytest

from unigate.errors import (
    AuthError,
    BadRequest,
    BudgetExceeded,
    ContextWindowExceeded,
    NotFound,
    Overloaded,
    PayloadTooLarge,
    PermissionDenied,
    ProviderError,
    RateLimited,
    UpstreamRateLimited,
    UpstreamServerError,
    UpstreamTimeout,
)
from unigate.operations.count_tokens import estimate_tokens
from unigate.providers import anthropic
from unigate.providers.anthropic.inbound import (
    StreamTranslator,
    effort_for_budget,
    error_payload,
    to_anthropic,
    to_openai,
    usage_to_anthropic,
)
from unigate.types import Deployment

ANTHROPIC = frozenset({"anthropic"})
OPENAI = frozenset({"openai"})
TOOL = {"name": "f", "description": "d", "input_schema": {"type": "object", "properties": {"x": {"type": "integer"}}}}


def body(**fields: Any) -> dict[str, Any]:
    return {"model": "m", "max_tokens": 64, "messages": [{"role": "user", "content": "hi"}], **fields}


def test_system_sampling_stop_user_and_stream() -> None:
    request = to_openai(
        body(
            system=[{"type": "text", "text": "A"}, {"type": "text", "text": "B"}],
            temperature=0.3,
            top_p=0.8,
            top_k=5,
            stop_sequences=["END"],
            metadata={"user_id": "u-1"},
            stream=True,
        ),
        OPENAI,
    )
    assert request["messages"][0] == {
        "role": "system",
        "content": [{"type": "text", "text": "A"}, {"type": "text", "text": "B"}],
    }
    assert (request["temperature"], request["top_p"], request["stop"], request["user"]) == (0.3, 0.8, ["END"], "u-1")
    assert request["stream"] is True and request["stream_options"] == {"include_usage": True}
    assert request["max_tokens"] == 64 and "top_k" not in request  # Anthropic-only field, not for OpenAI


def test_tool_results_become_tool_messages_before_the_rest_of_the_turn() -> None:
    messages = [
        {"role": "user", "content": "weather?"},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Let me check."},
                {"type": "tool_use", "id": "t1", "name": "f", "input": {"x": 1}},
                {"type": "tool_use", "id": "t2", "name": "f", "input": {}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "t1", "content": "one"},
                {"type": "tool_result", "tool_use_id": "t2", "content": "failed", "is_error": True},
                {"type": "image", "source": {"type": "url", "url": "https://x/cat.png"}},
                {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVB"}},
            ],
        },
    ]
    request = to_openai(body(messages=messages, tools=[TOOL]), OPENAI)
    assert request["messages"][1] == {
        "role": "assistant",
        "content": "Let me check.",
        "tool_calls": [
            {"id": "t1", "type": "function", "function": {"name": "f", "arguments": '{"x":1}'}},
            {"id": "t2", "type": "function", "function": {"name": "f", "arguments": "{}"}},
        ],
    }
    assert request["messages"][2] == {"role": "tool", "tool_call_id": "t1", "content": "one"}
    assert request["messages"][3] == {"role": "tool", "tool_call_id": "t2", "content": "Error: failed"}
    assert request["messages"][4]["content"] == [
        {"type": "image_url", "image_url": {"url": "https://x/cat.png"}},
        {"type": "file", "file": {"file_data": "data:application/pdf;base64,JVB"}},
    ]
    assert request["tools"] == [
        {"type": "function", "function": {"name": "f", "parameters": TOOL["input_schema"], "description": "d"}}
    ]


@pytest.mark.parametrize(
    ("choice", "expected", "parallel"),
    [
        ({"type": "auto"}, "auto", None),
        ({"type": "any", "disable_parallel_tool_use": True}, "required", False),
        ({"type": "tool", "name": "f"}, {"type": "function", "function": {"name": "f"}}, None),
        ({"type": "none"}, "none", None),
    ],
)
def test_tool_choice(choice: dict[str, Any], expected: Any, parallel: bool | None) -> None:
    request = to_openai(body(tools=[TOOL], tool_choice=choice), OPENAI)
    assert request["tool_choice"] == expected
    assert request.get("parallel_tool_calls") is parallel


def test_thinking_is_effort_elsewhere_and_passthrough_for_anthropic() -> None:
    history = [
        {"role": "user", "content": "q"},
        {
            "role": "assistant",
            "content": [
                {"type": "thinking", "thinking": "hmm", "signature": "sig"},
                {"type": "redacted_thinking", "data": "xyz"},
                {"type": "text", "text": "a"},
            ],
        },
        {"role": "user", "content": "more"},
    ]
    thinking = {"type": "enabled", "budget_tokens": 3000}
    elsewhere = to_openai(body(messages=history, thinking=thinking), OPENAI)
    assert elsewhere["reasoning_effort"] == "medium" and "thinking" not in elsewhere
    assert elsewhere["messages"][1] == {"role": "assistant", "content": "a"}  # foreign thinking dropped
    native = to_openai(body(messages=history, thinking=thinking, top_k=3), ANTHROPIC)
    assert native["thinking"] == thinking and native["top_k"] == 3 and "reasoning_effort" not in native
    assert native["messages"][1]["thinking_blocks"] == [
        {"type": "thinking", "thinking": "hmm", "signature": "sig"},
        {"type": "redacted_thinking", "data": "xyz"},
    ]
    bedrock = to_openai(body(messages=history), frozenset({"bedrock"}))
    assert bedrock["messages"][1]["reasoning_content"] == "hmm"
    assert [effort_for_budget(b) for b in (1024, 4096, 10000)] == ["low", "medium", "high"]


def test_round_trip_through_the_outbound_anthropic_translator_is_the_identity() -> None:
    native = {
        "model": "claude-sonnet-4-5",
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "hi", "cache_control": {"type": "ephemeral"}}]},
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "t", "signature": "s"},
                    {"type": "text", "text": "calling"},
                    {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {"x": 2}},
                ],
            },
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_1", "content": "4", "is_error": False},
                    {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBO"}},
                ],
            },
        ],
        "system": "Be brief.",
        "tools": [{"name": "f", "input_schema": TOOL["input_schema"], "description": "d"}],
        "tool_choice": {"type": "auto"},
        "temperature": 1,
        "stop_sequences": ["X"],
        "metadata": {"user_id": "u"},
        "thinking": {"type": "enabled", "budget_tokens": 1024},
        "max_tokens": 2048,
        "stream": False,
    }
    deployment = Deployment(id="c", public_name="c", provider="anthropic", model="claude-sonnet-4-5")
    assert anthropic.to_native(to_openai(native, ANTHROPIC), deployment) == native


def test_invalid_requests() -> None:
    with pytest.raises(BadRequest, match="max_tokens"):
        to_openai({"model": "m", "messages": []})
    with pytest.raises(BadRequest, match="role"):
        to_openai(body(messages=[{"role": "tool", "content": "x"}]))
    # a system turn mid-conversation (Claude Code sends them) stays where it was
    turns = to_openai(body(messages=[{"role": "user", "content": "a"}, {"role": "system", "content": "b"}]))["messages"]
    assert turns[-2:] == [{"role": "user", "content": "a"}, {"role": "system", "content": "b"}]
    with pytest.raises(BadRequest, match="content block type"):
        to_openai(body(messages=[{"role": "user", "content": [{"type": "video"}]}]))
    assert "max_tokens" not in to_openai({"model": "m", "messages": []}, count_only=True)


def completion(message: dict[str, Any], finish: str, usage: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"id": "chatcmpl-1", "choices": [{"index": 0, "message": message, "finish_reason": finish}], "usage": usage}


def test_response_translation() -> None:
    usage = {
        "prompt_tokens": 100,
        "completion_tokens": 9,
        "prompt_tokens_details": {"cached_tokens": 30, "cache_creation_tokens": 20},
    }
    message = to_anthropic(
        completion(
            {
                "role": "assistant",
                "content": "ok",
                "reasoning_content": "why",
                "tool_calls": [{"id": "c1", "function": {"name": "f", "arguments": '{"x": 1}'}}],
            },
            "tool_calls",
            usage,
        ),
        "public",
    )
    assert message["id"].startswith("msg_") and message["model"] == "public" and message["type"] == "message"
    assert message["content"] == [
        {"type": "thinking", "thinking": "why", "signature": ""},
        {"type": "text", "text": "ok"},
        {"type": "tool_use", "id": "c1", "name": "f", "input": {"x": 1}},
    ]
    assert message["stop_reason"] == "tool_use" and message["stop_sequence"] is None
    assert message["usage"] == {
        "input_tokens": 50,
        "cache_creation_input_tokens": 20,
        "cache_read_input_tokens": 30,
        "output_tokens": 9,
    }
    signed = to_anthropic(
        completion(
            {
                "content": "x",
                "reasoning_content": "r",
                "thinking_blocks": [
                    {"type": "thinking", "thinking": "r", "signature": "S"},
                    {"type": "redacted_thinking", "data": "D"},
                ],
            },
            "length",
        ),
        "p",
    )
    assert signed["content"][:2] == [
        {"type": "thinking", "thinking": "r", "signature": "S"},
        {"type": "redacted_thinking", "data": "D"},
    ]
    assert signed["stop_reason"] == "max_tokens" and signed["usage"]["input_tokens"] == 0
    assert to_anthropic(completion({"content": "no"}, "content_filter"), "p")["stop_reason"] == "refusal"
    odd = to_anthropic(
        completion({"tool_calls": [{"id": "c", "function": {"name": "f", "arguments": "{oops"}}]}, "tool_calls"), "p"
    )
    assert odd["content"] == [{"type": "tool_use", "id": "c", "name": "f", "input": {"_raw_arguments": "{oops"}}]


def chunk(
    delta: dict[str, Any] | None, finish: str | None = None, usage: dict[str, Any] | None = None
) -> dict[str, Any]:
    return {
        "id": "msg_abc",
        "choices": [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}],
        **({"usage": usage} if usage else {}),
    }


def run(chunks: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    translator = StreamTranslator("public")
    events = [e for c in chunks for e in translator.feed(c)]
    return events + translator.finish() + translator.finish()  # finish is idempotent


def test_stream_events_and_block_indexes() -> None:
    events = run(
        [
            chunk({"role": "assistant", "content": ""}),
            chunk({"reasoning_content": "a"}),
            chunk({"reasoning_content": "b"}),
            chunk({"thinking_blocks": [{"type": "thinking", "thinking": "ab", "signature": "SIG"}]}),
            chunk({"thinking_blocks": [{"type": "redacted_thinking", "data": "R"}]}),
            chunk({"content": "hi"}),
            chunk({"tool_calls": [{"index": 0, "id": "c0", "function": {"name": "f", "arguments": '{"x"'}}]}),
            chunk({"tool_calls": [{"index": 0, "function": {"arguments": ": 1}"}}]}),
            chunk({"tool_calls": [{"index": 1, "id": "c1", "function": {"name": "g", "arguments": ""}}]}),
            chunk({}, "tool_calls"),
            chunk(None, usage={"prompt_tokens": 5, "completion_tokens": 3}),
        ]
    )
    names = [n for n, _ in events]
    assert names[:2] == ["message_start", "ping"] and names[-2:] == ["message_delta", "message_stop"]
    start = events[0][1]["message"]
    assert start["id"] == "msg_abc" and start["model"] == "public" and start["content"] == []
    blocks = [(d["index"], d["content_block"]["type"]) for n, d in events if n == "content_block_start"]
    assert blocks == [(0, "thinking"), (1, "redacted_thinking"), (2, "text"), (3, "tool_use"), (4, "tool_use")]
    deltas = [(d["index"], d["delta"]) for n, d in events if n == "content_block_delta"]
    assert deltas == [
        (0, {"type": "thinking_delta", "thinking": "a"}),
        (0, {"type": "thinking_delta", "thinking": "b"}),
        (0, {"type": "signature_delta", "signature": "SIG"}),
        (2, {"type": "text_delta", "text": "hi"}),
        (3, {"type": "input_json_delta", "partial_json": '{"x"'}),
        (3, {"type": "input_json_delta", "partial_json": ": 1}"}),
    ]
    stops = [d["index"] for n, d in events if n == "content_block_stop"]
    assert stops == [0, 1, 2, 3, 4]
    final = events[-2][1]
    assert final["delta"] == {"stop_reason": "tool_use", "stop_sequence": None}
    assert final["usage"]["input_tokens"] == 5 and final["usage"]["output_tokens"] == 3


def test_stream_without_content_or_usage_still_closes_the_message() -> None:
    events = run([])
    assert [n for n, _ in events] == ["message_start", "ping", "message_delta", "message_stop"]
    assert events[2][1]["delta"]["stop_reason"] == "end_turn"


@pytest.mark.parametrize(
    ("error", "status", "kind"),
    [
        (BadRequest("x"), 400, "invalid_request_error"),
        (PayloadTooLarge("x"), 413, "request_too_large"),
        (AuthError("x"), 401, "authentication_error"),
        (PermissionDenied("x"), 403, "permission_error"),
        (NotFound("x"), 404, "not_found_error"),
        (RateLimited("x"), 429, "rate_limit_error"),
        (UpstreamRateLimited("x"), 429, "rate_limit_error"),
        (BudgetExceeded("x"), 402, "billing_error"),
        (Overloaded("x"), 529, "overloaded_error"),
        (UpstreamTimeout("x"), 504, "timeout_error"),
        (UpstreamServerError("x"), 502, "api_error"),
        (ContextWindowExceeded("x"), 400, "invalid_request_error"),
        (ProviderError("x", status=404), 404, "not_found_error"),
        (ProviderError("x", status=401), 502, "api_error"),
    ],
)
def test_error_mapping(error: Any, status: int, kind: str) -> None:
    assert error_payload(error) == (status, {"type": "error", "error": {"type": kind, "message": "x"}})


def test_usage_and_token_estimate() -> None:
    assert usage_to_anthropic(None) == {
        "input_tokens": 0,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "output_tokens": 0,
    }
    short = estimate_tokens(to_openai(body(), count_only=True))
    long = estimate_tokens(to_openai(body(messages=[{"role": "user", "content": "word " * 400}]), count_only=True))
    assert 0 < short < 20 and 400 <= long <= 600
    image = [{"type": "image", "source": {"type": "url", "url": "https://x/a.png"}}]
    assert estimate_tokens(to_openai(body(messages=[{"role": "user", "content": image}]), count_only=True)) > 1000
