"""Cohere v2 chat SSE events → canonical chunks, one event at a time."""

from __future__ import annotations

from typing import Any

import orjson

from unigate.errors import UpstreamConnectionError
from unigate.providers.cohere.errors import PROVIDER
from unigate.providers.cohere.response import finish_reason, usage_from_native
from unigate.types import ChatChunk, Delta, ToolCallDelta, Usage, make_chunk, new_completion_id, now


class StreamTranslator:
    """Cohere v2 stream events → OpenAI ``chat.completion.chunk`` dicts, one event at a time.

    Tool calls get the OpenAI ``index`` in the order they start. ``tool-plan-delta`` text is
    streamed as content, matching what ``from_native`` does with ``tool_plan``.
    """

    def __init__(self, public_model: str) -> None:
        self.model = public_model
        self.id = new_completion_id()
        self.created = now()
        self.tools = 0
        self.tool_index: dict[int, int] = {}  # Cohere event index → OpenAI tool-call index
        self.tool_has_arguments: dict[int, bool] = {}
        self.finish: str | None = None
        self.done = False

    def _chunk(self, delta: Delta | None, finish: str | None = None, usage: Usage | None = None) -> ChatChunk:
        return make_chunk(self.id, self.model, delta, finish, created=self.created, usage=usage)

    def feed(self, event: str | None, data: bytes | dict[str, Any]) -> list[ChatChunk]:
        if isinstance(data, bytes) and data.strip() in (b"", b"[DONE]"):
            return []
        payload = orjson.loads(data) if isinstance(data, bytes | str) else data
        kind = payload.get("type") or event
        delta = payload.get("delta") or {}
        message = delta.get("message") or {}
        if kind == "message-start":
            self.id = payload.get("id") or self.id
            return [self._chunk({"role": "assistant", "content": ""})]
        if kind in ("content-start", "content-delta"):
            content = message.get("content") or {}
            if content.get("thinking"):
                return [self._chunk({"reasoning_content": content["thinking"]})]
            if content.get("text"):
                return [self._chunk({"content": content["text"]})]
            return []
        if kind == "tool-plan-delta":
            return [self._chunk({"content": message["tool_plan"]})] if message.get("tool_plan") else []
        if kind == "tool-call-start":
            return self._tool_start(int(payload.get("index", 0)), message.get("tool_calls") or {})
        if kind == "tool-call-delta":
            return self._tool_delta(int(payload.get("index", 0)), message.get("tool_calls") or {})
        if kind == "tool-call-end":
            index = int(payload.get("index", 0))
            if index in self.tool_index and not self.tool_has_arguments.get(index):
                call: ToolCallDelta = {"index": self.tool_index[index], "function": {"arguments": "{}"}}
                return [self._chunk({"tool_calls": [call]})]
            return []
        if kind == "message-end":
            self.done = True
            self.finish = finish_reason(delta.get("finish_reason") or "COMPLETE", delta.get("error"), data)
            return [
                self._chunk({}, self.finish),
                self._chunk(None, usage=usage_from_native(delta.get("usage"))),
            ]
        return []  # content-end, citation-*, debug and event types added later

    def _tool_start(self, index: int, call: dict[str, Any]) -> list[ChatChunk]:
        self.tool_index[index] = self.tools
        self.tools += 1
        function = call.get("function") or {}
        arguments = function.get("arguments") or ""
        self.tool_has_arguments[index] = bool(arguments)
        start: ToolCallDelta = {
            "index": self.tool_index[index],
            "id": call.get("id") or "",
            "type": "function",
            "function": {"name": function.get("name") or "", "arguments": arguments},
        }
        return [self._chunk({"tool_calls": [start]})]

    def _tool_delta(self, index: int, call: dict[str, Any]) -> list[ChatChunk]:
        arguments = (call.get("function") or {}).get("arguments")
        if not arguments or index not in self.tool_index:
            return []
        self.tool_has_arguments[index] = True
        return [self._chunk({"tool_calls": [{"index": self.tool_index[index], "function": {"arguments": arguments}}]})]

    def close(self) -> list[ChatChunk]:
        if not self.done:
            raise UpstreamConnectionError("cohere: stream ended before message-end", provider=PROVIDER)
        return []
