"""Anthropic Messages SSE events → canonical chunks, one event at a time (pure, no I/O)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from unigate.errors import UpstreamConnectionError
from unigate.providers.anthropic.errors import PROVIDER, error_from_payload
from unigate.providers.anthropic.response import finish_reason, thinking_block, usage_from_native
from unigate.types import ChatChunk, Delta, ThinkingBlock, ToolCallDelta, Usage, make_chunk, new_completion_id, now


@dataclass
class _Block:
    kind: str
    tool_index: int = -1
    has_arguments: bool = False
    thinking: list[str] = field(default_factory=list)
    signature: str = ""


class StreamTranslator:
    """Anthropic SSE events → OpenAI ``chat.completion.chunk`` dicts, one event at a time.

    ``feed`` returns the chunks an event produces (often none); ``done`` turns true at
    ``message_stop``; ``close`` finishes a stream whose upstream ended without it. Tool calls are
    numbered in the order their blocks open, which is the OpenAI ``index``.
    """

    def __init__(self, public_model: str) -> None:
        self.model = public_model
        self.id = new_completion_id()
        self.created = now()
        self.usage: dict[str, Any] = {}
        self.blocks: dict[int, _Block] = {}
        self.tools = 0
        self.finish: str | None = None
        self.done = False

    def _chunk(self, delta: Delta | None, finish: str | None = None, usage: Usage | None = None) -> ChatChunk:
        return make_chunk(self.id, self.model, delta, finish, created=self.created, usage=usage)

    def feed(self, event: str | None, data: bytes | dict[str, Any]) -> list[ChatChunk]:
        payload = orjson.loads(data) if isinstance(data, bytes | str) else data
        kind = payload.get("type") or event
        if kind == "message_start":
            message = payload.get("message") or {}
            self.id = message.get("id") or self.id
            self.usage.update(message.get("usage") or {})
            return [self._chunk({"role": "assistant", "content": ""})]
        if kind == "content_block_start":
            return self._block_start(int(payload.get("index", 0)), payload.get("content_block") or {})
        if kind == "content_block_delta":
            return self._block_delta(int(payload.get("index", 0)), payload.get("delta") or {})
        if kind == "content_block_stop":
            return self._block_stop(int(payload.get("index", 0)))
        if kind == "message_delta":
            self.usage.update({k: v for k, v in (payload.get("usage") or {}).items() if v is not None})
            stop_reason = (payload.get("delta") or {}).get("stop_reason")
            if stop_reason is None:
                return []
            self.finish = finish_reason(stop_reason)
            return [self._chunk({}, self.finish)]
        if kind == "message_stop":
            self.done = True
            return [self._chunk(None, usage=usage_from_native(self.usage))]
        if kind == "error":
            raise error_from_payload(payload, raw=data if isinstance(data, bytes) else orjson.dumps(payload))
        return []  # ping and event types added later

    def _block_start(self, index: int, block: dict[str, Any]) -> list[ChatChunk]:
        kind = block.get("type", "")
        state = self.blocks[index] = _Block(kind)
        if kind == "text" and block.get("text"):
            return [self._chunk({"content": block["text"]})]
        if kind == "thinking" and block.get("thinking"):
            state.thinking.append(block["thinking"])
            return [self._chunk({"reasoning_content": block["thinking"]})]
        if kind == "redacted_thinking":
            return [self._chunk({"thinking_blocks": [thinking_block(block)]})]
        if kind == "tool_use":
            state.tool_index = self.tools
            self.tools += 1
            initial = block.get("input")
            arguments = orjson.dumps(initial).decode() if initial else ""
            state.has_arguments = bool(arguments)
            call: ToolCallDelta = {
                "index": state.tool_index,
                "id": block.get("id") or "",
                "type": "function",
                "function": {"name": block.get("name") or "", "arguments": arguments},
            }
            return [self._chunk({"tool_calls": [call]})]
        return []

    def _block_delta(self, index: int, delta: dict[str, Any]) -> list[ChatChunk]:
        state = self.blocks.get(index) or _Block("")
        kind = delta.get("type")
        if kind == "text_delta" and delta.get("text"):
            return [self._chunk({"content": delta["text"]})]
        if kind == "thinking_delta" and delta.get("thinking"):
            state.thinking.append(delta["thinking"])
            return [self._chunk({"reasoning_content": delta["thinking"]})]
        if kind == "signature_delta":
            state.signature += delta.get("signature", "")
        elif kind == "input_json_delta" and delta.get("partial_json") and state.tool_index >= 0:
            state.has_arguments = True
            fragment: ToolCallDelta = {"index": state.tool_index, "function": {"arguments": delta["partial_json"]}}
            return [self._chunk({"tool_calls": [fragment]})]
        return []

    def _block_stop(self, index: int) -> list[ChatChunk]:
        state = self.blocks.get(index)
        if state is None:
            return []
        if state.kind == "tool_use" and not state.has_arguments:
            # A call without arguments streams no JSON at all; OpenAI clients expect "{}".
            return [self._chunk({"tool_calls": [{"index": state.tool_index, "function": {"arguments": "{}"}}]})]
        if state.kind == "thinking":
            block: ThinkingBlock = {
                "type": "thinking",
                "thinking": "".join(state.thinking),
                "signature": state.signature,
            }
            return [self._chunk({"thinking_blocks": [block]})]
        return []

    def close(self) -> list[ChatChunk]:
        """Chunks owed when the upstream stream ends; raises if it ended before finishing."""
        if self.done:
            return []
        if self.finish is None:
            raise UpstreamConnectionError("anthropic: stream ended before the message finished", provider=PROVIDER)
        self.done = True
        return [self._chunk(None, usage=usage_from_native(self.usage))]
