"""Bedrock ``ConverseStream`` events (already decoded from the AWS event-stream framing by the
shell) → canonical chunks. Exception messages of the stream are mapped by
:func:`.errors.error_from_exception`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from unigate.providers.bedrock.response import stop_reason, usage_from_native
from unigate.types import ChatChunk, Delta, ToolCallDelta, new_completion_id, now


@dataclass
class BedrockStreamState:
    response_id: str
    model: str
    created: int
    tool_index: dict[int, int] = field(default_factory=dict)  # contentBlockIndex → tool call index
    thinking: dict[int, list[str]] = field(default_factory=dict)  # contentBlockIndex → thought text
    signatures: dict[int, str] = field(default_factory=dict)
    role_sent: bool = False


def _chunk(state: BedrockStreamState, delta: Delta | None, finish: str | None = None) -> ChatChunk:
    if delta is not None and not state.role_sent:
        state.role_sent = True
        delta = {"role": "assistant", **delta}
    return {
        "id": state.response_id,
        "object": "chat.completion.chunk",
        "created": state.created,
        "model": state.model,
        "choices": [] if delta is None else [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
    }


def from_native_event(event_type: str, payload: dict[str, Any], state: BedrockStreamState) -> ChatChunk | None:
    """One decoded ``ConverseStream`` event (its ``:event-type`` and JSON payload) → a chunk."""
    if event_type == "messageStart":
        return _chunk(state, {"content": ""})
    if event_type == "contentBlockStart":
        start = payload.get("start") or {}
        use = start.get("toolUse")
        if not isinstance(use, dict):
            return None
        block = int(payload.get("contentBlockIndex", 0))
        index = state.tool_index[block] = len(state.tool_index)
        call: ToolCallDelta = {
            "index": index,
            "id": use.get("toolUseId") or "",
            "type": "function",
            "function": {"name": use.get("name", ""), "arguments": ""},
        }
        return _chunk(state, {"tool_calls": [call]})
    if event_type == "contentBlockDelta":
        block = int(payload.get("contentBlockIndex", 0))
        delta = payload.get("delta") or {}
        if "text" in delta:
            return _chunk(state, {"content": delta["text"]})
        if "toolUse" in delta:
            index = state.tool_index.get(block, 0)
            arguments = (delta["toolUse"] or {}).get("input", "")
            return _chunk(state, {"tool_calls": [{"index": index, "function": {"arguments": arguments}}]})
        reasoning = delta.get("reasoningContent")
        if isinstance(reasoning, dict):
            if "text" in reasoning:
                state.thinking.setdefault(block, []).append(reasoning["text"])
                return _chunk(state, {"reasoning_content": reasoning["text"]})
            if "signature" in reasoning:
                state.signatures[block] = reasoning["signature"]
                return None
            if "redactedContent" in reasoning:
                return _chunk(
                    state,
                    {"thinking_blocks": [{"type": "redacted_thinking", "data": reasoning["redactedContent"]}]},
                )
        return None
    if event_type == "contentBlockStop":
        block = int(payload.get("contentBlockIndex", 0))
        if block in state.signatures:
            # A thinking block is complete only with its signature; hand it over whole.
            thinking = "".join(state.thinking.pop(block, []))
            signature = state.signatures.pop(block)
            return _chunk(
                state,
                {"thinking_blocks": [{"type": "thinking", "thinking": thinking, "signature": signature}]},
            )
        return None
    if event_type == "messageStop":
        return _chunk(state, {}, stop_reason(payload.get("stopReason")))
    if event_type == "metadata":
        usage = usage_from_native(payload.get("usage"))
        if usage is None:
            return None
        chunk = _chunk(state, None)
        chunk["usage"] = usage
        return chunk
    return None


class StreamTranslator:
    def __init__(self, public_model: str) -> None:
        self.state = BedrockStreamState(response_id=new_completion_id(), model=public_model, created=now())
        self.done = False  # the event stream ends with the connection

    def feed(self, event: str | None, data: bytes) -> list[ChatChunk]:
        payload = orjson.loads(data) if data else {}
        chunk = from_native_event(event or "", payload, self.state)
        return [] if chunk is None else [chunk]

    def close(self) -> list[ChatChunk]:
        return []
