"""openai_compat: upstream stream events → canonical chunks."""

from __future__ import annotations

import json

import aiohttp
import pytest

from tests.providers.openai_compat.support import deployment
from unigate.providers.base import ProviderContext
from unigate.providers.openai_compat import COMPAT_PROVIDERS, OpenAICompatProvider, from_native_event

# What Mistral's reasoning models stream: typed parts in delta.content, thinking first
MISTRAL_EVENTS = [
    {"choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]},
    {
        "choices": [
            {
                "index": 0,
                "delta": {"content": [{"type": "thinking", "thinking": [{"type": "text", "text": "Rivers are "}]}]},
                "finish_reason": None,
            }
        ]
    },
    {
        "choices": [
            {
                "index": 0,
                "delta": {"content": [{"type": "thinking", "thinking": [{"type": "text", "text": "deep."}]}]},
                "finish_reason": None,
            }
        ]
    },
    {"choices": [{"index": 0, "delta": {"content": [{"type": "text", "text": "Use a "}]}, "finish_reason": None}]},
    {"choices": [{"index": 0, "delta": {"content": "bridge."}, "finish_reason": "stop"}]},
    {"choices": [], "usage": {"prompt_tokens": 9, "completion_tokens": 7, "total_tokens": 16}},
]


def test_reasoning_field_and_done():
    chunk = from_native_event(b'{"choices": [{"index": 0, "delta": {"reasoning": "hm"}}]}', "p")
    assert chunk is not None and chunk["choices"][0]["delta"]["reasoning_content"] == "hm"
    assert chunk["model"] == "p"
    assert from_native_event(b"[DONE]", "p") is None


async def test_mistral_typed_parts_stream_as_text_and_reasoning(replay_server):
    body = "".join(f"data: {json.dumps(event)}\n\n" for event in MISTRAL_EVENTS) + "data: [DONE]\n\n"
    interaction = {
        "response": {"status": {"code": 200}, "headers": {"content-type": ["text/event-stream"]}, "body": body}
    }
    base = await replay_server([interaction])
    async with aiohttp.ClientSession() as http:
        provider = OpenAICompatProvider("mistral", COMPAT_PROVIDERS["mistral"], ProviderContext(http=http))
        dep = deployment("mistral", api_base=base + "/v1", api_key="mistral-key-0123456789")
        chunks = [c async for c in provider.chat_stream({"messages": [{"role": "user", "content": "q"}]}, dep)]
    deltas = [choice["delta"] for c in chunks for choice in c["choices"]]
    assert all(not isinstance(d.get("content"), list) for d in deltas)  # never a list to the client
    assert "".join(d.get("reasoning_content", "") for d in deltas) == "Rivers are deep."
    assert "".join(d.get("content") or "" for d in deltas) == "Use a bridge."
    assert chunks[-1]["usage"]["total_tokens"] == 16


@pytest.mark.parametrize("data", [b"{not json", b'{"choices": 5}'])
async def test_a_malformed_event_ends_the_stream_with_a_502_naming_the_upstream(replay_server, data):
    body = "data: " + data.decode() + "\n\n"
    interaction = {
        "response": {"status": {"code": 200}, "headers": {"content-type": ["text/event-stream"]}, "body": body}
    }
    base = await replay_server([interaction])
    async with aiohttp.ClientSession() as http:
        provider = OpenAICompatProvider("groq", COMPAT_PROVIDERS["groq"], ProviderContext(http=http))
        with pytest.raises(Exception) as caught:
            [c async for c in provider.chat_stream({"messages": []}, deployment("groq", api_base=base))]
    assert getattr(caught.value, "http_status", None) == 502
    assert caught.value.provider == "groq"
