"""Gemini ``streamGenerateContent?alt=sse`` events → canonical chunks.

Each event is a whole ``GenerateContentResponse`` holding only the new parts; ``usageMetadata``
is cumulative, so the last one seen becomes the closing usage-only chunk.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import orjson

from unigate.providers.gemini.errors import blocked, parse_error
from unigate.providers.gemini.response import finish_reason, split_parts, tool_call_of, usage_from_native
from unigate.types import ChatChunk, ChunkChoice, Delta, Usage, new_completion_id, now


@dataclass
class GeminiStreamState:
    """What one stream needs to remember between events (owned by the caller, one per stream)."""

    response_id: str
    model: str
    created: int
    usage: Usage | None = None
    started: set[int] = field(default_factory=set)  # candidates whose first delta carried the role
    tool_calls: dict[int, int] = field(default_factory=dict)  # candidate → tool calls emitted so far


def from_native_event(data: bytes, state: GeminiStreamState) -> ChatChunk | None:
    """One SSE ``data:`` payload → one ``chat.completion.chunk`` (``None`` for usage-only events).

    Each Gemini stream event is a whole ``GenerateContentResponse`` holding only the new parts;
    ``usageMetadata`` is cumulative, so the last one seen is kept for the final usage chunk."""
    event = orjson.loads(data)
    if isinstance(event, list):  # Vertex sometimes wraps errors in a list
        event = event[0] if event else {}
    if "error" in event and not event.get("candidates"):
        error = event["error"] if isinstance(event["error"], dict) else {}
        raise parse_error(int(error.get("code") or 500), data, None)
    usage = usage_from_native(event.get("usageMetadata"))
    if usage is not None:
        state.usage = usage
    candidates = event.get("candidates") or []
    if not candidates:
        if (event.get("promptFeedback") or {}).get("blockReason"):
            raise blocked(event)
        return None
    choices: list[ChunkChoice] = []
    for position, candidate in enumerate(candidates):
        index = int(candidate.get("index", position))
        text, reasoning, calls = split_parts((candidate.get("content") or {}).get("parts") or [])
        delta: Delta = {}
        if index not in state.started:
            state.started.add(index)
            delta["role"] = "assistant"
        if text or "role" in delta:
            delta["content"] = text
        if reasoning:
            delta["reasoning_content"] = reasoning
        if calls:
            first = state.tool_calls.get(index, 0)
            delta["tool_calls"] = [tool_call_of(part, first + n) for n, part in enumerate(calls)]
            state.tool_calls[index] = first + len(calls)
        reason = finish_reason(candidate.get("finishReason"), state.tool_calls.get(index, 0) > 0)
        choices.append({"index": index, "delta": delta, "logprobs": None, "finish_reason": reason})
    return {
        "id": state.response_id,
        "object": "chat.completion.chunk",
        "created": state.created,
        "model": state.model,
        "choices": choices,
    }


def stream_usage_chunk(state: GeminiStreamState) -> ChatChunk | None:
    """The closing usage-only chunk (``choices: []``), as OpenAI sends with include_usage."""
    if state.usage is None:
        return None
    return {
        "id": state.response_id,
        "object": "chat.completion.chunk",
        "created": state.created,
        "model": state.model,
        "choices": [],
        "usage": state.usage,
    }


class StreamTranslator:
    def __init__(self, public_model: str) -> None:
        self.state = GeminiStreamState(response_id=new_completion_id(), model=public_model, created=now())
        self.done = False  # Gemini streams end with the connection

    def feed(self, event: str | None, data: bytes) -> list[ChatChunk]:
        chunk = from_native_event(data, self.state)
        return [] if chunk is None else [chunk]

    def close(self) -> list[ChatChunk]:
        final = stream_usage_chunk(self.state)
        return [] if final is None else [final]
