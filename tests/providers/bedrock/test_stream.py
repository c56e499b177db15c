"""bedrock: upstream stream events → canonical chunks.

Bedrock Converse translation checked against real recorded traffic, plus the provider over real
HTTP (SigV4 with fixed fake credentials, bearer API keys, binary event streams).
"""

from __future__ import annotations

from tests.providers.bedrock.support import _collect, _decode_stream
from tests.providers.conftest import load_recording, recorded_response_body
from unigate.providers.bedrock import (
    BedrockStreamState,
    from_native_event,
)


def test_stream_thinking_signature_arrives_whole() -> None:
    raw = recorded_response_body(load_recording("bedrock", "test_bedrock_model_thinking_part_stream.yaml")[0])
    state = BedrockStreamState(response_id="x", model="p", created=1)
    chunks = [c for kind, payload in _decode_stream(raw) if (c := from_native_event(kind, payload, state))]
    blocks = [b for c in chunks for ch in c["choices"] for b in ch["delta"].get("thinking_blocks", [])]
    assert len(blocks) == 1 and blocks[0]["signature"].startswith("Eu0CCkgIBxAB")
    assert blocks[0]["thinking"].startswith("The user has greeted me")


def test_tool_use_stream_events() -> None:
    state = BedrockStreamState(response_id="x", model="public-bedrock", created=1)
    events = [
        ("messageStart", {"role": "assistant"}),
        ("contentBlockStart", {"contentBlockIndex": 1, "start": {"toolUse": {"toolUseId": "t1", "name": "f"}}}),
        ("contentBlockDelta", {"contentBlockIndex": 1, "delta": {"toolUse": {"input": '{"a": '}}}),
        ("contentBlockDelta", {"contentBlockIndex": 1, "delta": {"toolUse": {"input": "1}"}}}),
        ("contentBlockStop", {"contentBlockIndex": 1}),
        ("messageStop", {"stopReason": "tool_use"}),
        ("metadata", {"usage": {"inputTokens": 3, "outputTokens": 4, "cacheReadInputTokens": 2}}),
    ]
    result = _collect([c for kind, payload in events if (c := from_native_event(kind, payload, state))])
    assert result["message"]["tool_calls"] == [{"id": "t1", "function": {"name": "f", "arguments": '{"a": 1}'}}]
    assert result["finish_reason"] == "tool_calls"
    assert result["usage"]["prompt_tokens"] == 5 and result["usage"]["prompt_tokens_details"] == {"cached_tokens": 2}
