"""anthropic: upstream stream events → canonical chunks.

Anthropic translation checked against recorded real traffic, plus a real-HTTP replay upstream.

Each ``Case`` is an OpenAI-format conversation with the same meaning as one recorded exchange
(or a multi-turn run of them, where later turns send back what earlier replies returned, as a
client would). ``to_native`` must produce the recorded request body; the recorded reply must come
back with the recorded text, tool calls, reasoning, finish reason and usage.
"""

from __future__ import annotations

import orjson

from tests.providers.anthropic.support import CASES, TOOL_STREAM, check_message, collect_stream
from tests.providers.conftest import load_recording, recorded_response_body
from unigate.providers.anthropic import (
    StreamTranslator,
)


def parse_sse(text: str) -> list[tuple[str | None, bytes]]:
    events = []
    for block in text.split("\n\n"):
        if not block.strip():
            continue
        name = None
        data = []
        for line in block.split("\n"):
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].lstrip())
        events.append((name, "\n".join(data).encode()))
    return events


def test_recorded_stream_translation() -> None:
    case = next(c for c in CASES if c.extra.get("stream"))
    interaction = load_recording("anthropic", case.file)[0]
    raw = recorded_response_body(interaction)
    translator = StreamTranslator("claude")
    chunks = [c for event, data in parse_sse(raw) for c in translator.feed(event, data)]
    assert translator.done and translator.close() == []
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] == 282
    got = collect_stream(chunks)
    check_message(
        case.turns[0],
        {"content": got["content"], "reasoning_content": got["reasoning"]},
        got["finish"],
        got["usage"],
    )
    assert got["reasoning"].startswith("This is a straightforward question about pedestrian safety.")
    assert got["content"].endswith("prioritize safety over speed when crossing streets.")
    (block,) = got["thinking_blocks"]
    assert block["thinking"] == got["reasoning"] and block["signature"].startswith("EvMCCkYICxgCKkCHP2cS")
    assert len({c["id"] for c in chunks}) == 1 and chunks[0]["id"] == "msg_01ALwQ87pTS7hH1PjSdC9wJD"


def test_tool_call_stream_translation() -> None:
    translator = StreamTranslator("claude")
    chunks = [c for name, data in TOOL_STREAM for c in translator.feed(name, orjson.dumps(data))]
    got = collect_stream(chunks)
    assert got["content"] == "Okay"
    assert got["tool_calls"] == [
        {"id": "toolu_A", "name": "get_weather", "arguments": '{"location": "San Francisco, CA"}'},
        {"id": "toolu_B", "name": "get_time", "arguments": "{}"},
    ]
    first_deltas = [
        c["choices"][0]["delta"]["tool_calls"][0]
        for c in chunks
        if c["choices"] and "tool_calls" in c["choices"][0]["delta"]
    ]
    assert [d["index"] for d in first_deltas] == [0, 0, 0, 1, 1]
    assert got["finish"] == "tool_calls"
    assert got["usage"] == {
        "prompt_tokens": 572,
        "completion_tokens": 89,
        "total_tokens": 661,
        "prompt_tokens_details": {"cached_tokens": 100},
    }
