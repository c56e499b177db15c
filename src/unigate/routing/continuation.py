"""Streaming continuation: after a mid-stream failure, carry on with the answer elsewhere.

The partial answer goes to a fallback deployment as a trailing assistant message (an
"assistant prefix"); the fallback's chunks are rewritten to the original stream's ``id`` /
``created`` and its role preamble dropped, so the client reads one stream. Only plain-text
answers of one choice continue: a stream that already carried tool calls or a finish reason
ends with the error event instead.
"""

from __future__ import annotations

from typing import Any

from unigate.types import ChatChunk, ChatRequest

MAX_CONTINUATIONS = 2


class Tracker:
    """Watches a stream's chunks: the text so far, and whether a continuation is still possible."""

    __slots__ = ("continuable", "created", "id", "parts")

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.id: str | None = None
        self.created: int | None = None
        self.continuable = True

    def see(self, chunk: ChatChunk) -> None:
        if self.id is None:
            self.id = chunk.get("id")
            self.created = chunk.get("created")
        for choice in chunk.get("choices") or ():
            if choice.get("index", 0) != 0 or choice.get("finish_reason"):
                self.continuable = False
            delta = choice.get("delta") or {}
            if delta.get("tool_calls") or delta.get("function_call") or delta.get("reasoning_content"):
                self.continuable = False
            content = delta.get("content")
            if content:
                self.parts.append(content)

    @property
    def text(self) -> str:
        return "".join(self.parts)

    def rewrite(self, chunk: ChatChunk) -> ChatChunk | None:
        """A continuation chunk as part of the original stream (``None``: drop it)."""
        choices = chunk.get("choices") or ()
        if choices and not chunk.get("usage"):
            delta = choices[0].get("delta") or {}
            if not choices[0].get("finish_reason") and not any(v for k, v in delta.items() if k != "role"):
                return None  # role preamble / empty keep-alive
        out = chunk.copy()
        if self.id is not None:
            out["id"] = self.id
        if self.created is not None:
            out["created"] = self.created
        if choices:
            new_choices = []
            for choice in choices:
                delta = choice.get("delta") or {}
                if "role" in delta:
                    delta = delta.copy()
                    del delta["role"]
                    choice = choice.copy()
                    choice["delta"] = delta
                new_choices.append(choice)
            out["choices"] = new_choices
        return out


def allowed(request: ChatRequest) -> bool:
    n = request.get("n")
    return n in (None, 1) and not request.get("tools") and not request.get("functions")


def continuation_request(request: ChatRequest, partial: str) -> ChatRequest:
    """The original request with the partial answer appended as an assistant prefix."""
    messages: list[Any] = [*request.get("messages", ()), {"role": "assistant", "content": partial}]
    return {**request, "messages": messages}
