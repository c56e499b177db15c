"""cohere: upstream stream events → canonical chunks.

Cohere v2 chat translation checked against recorded real traffic, plus a real-HTTP replay upstream.

The recordings hold non-streamed chats (plain, system prompt, reasoning model with thinking in
the history). Streaming, tool calls and errors have no recording: they are checked against the
event and body shapes of Cohere's v2 API reference ("Chat with Streaming", "Errors").
"""

from __future__ import annotations

import orjson

from tests.providers.cohere.support import STREAM_EVENTS, collect
from unigate.providers.cohere import StreamTranslator


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
