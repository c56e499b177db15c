"""Helpers shared by the cohere provider tests."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from openai.types.chat import ChatCompletionChunk

from tests.providers.conftest import load_recording, recorded_response_body
from unigate.providers.base import ProviderContext
from unigate.providers.cohere import CohereProvider
from unigate.types import Deployment


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


@pytest.fixture
async def provider() -> Any:
    async with aiohttp.ClientSession() as session:
        yield CohereProvider(ProviderContext(http=session))
