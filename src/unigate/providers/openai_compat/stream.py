"""OpenAI-compatible SSE events → canonical chunks: the upstream's chunks, normalised like
whole replies (:mod:`.response`), with the public model name; ``[DONE]`` ends the stream."""

from __future__ import annotations

from typing import cast

import orjson

from unigate.providers import openai_responses
from unigate.providers.openai_compat.errors import parse_error
from unigate.providers.openai_compat.response import normalize_reasoning
from unigate.types import ChatChunk


def from_native_event(data: bytes, public_model: str) -> ChatChunk | None:
    """One SSE ``data:`` payload → a canonical chunk (``None`` for ``[DONE]``)."""
    if data == b"[DONE]":
        return None
    chunk = orjson.loads(data)
    if chunk.get("error"):
        # some upstreams report mid-stream failures as an error event (Groq), or as a chunk that
        # carries both an error and a final choice (OpenRouter)
        error = chunk["error"]
        code = (error.get("status_code") or error.get("code")) if isinstance(error, dict) else None
        status = code if isinstance(code, int) and 400 <= code < 600 else 500
        raise parse_error("upstream", status, data)
    for choice in chunk.get("choices") or ():
        delta = choice.get("delta")
        if isinstance(delta, dict):
            typed = isinstance(delta.get("content"), list)
            normalize_reasoning(delta)
            if typed and not delta.get("content"):
                del delta["content"]  # a delta of thinking only adds no text
    chunk["model"] = public_model
    return cast(ChatChunk, chunk)


class StreamTranslator:
    def __init__(self, public_model: str) -> None:
        self.model = public_model
        self.done = False

    def feed(self, event: str | None, data: bytes) -> list[ChatChunk]:
        chunk = from_native_event(data, self.model)
        if chunk is None:
            self.done = True
            return []
        return [chunk]

    def close(self) -> list[ChatChunk]:
        return []  # an upstream that ends without [DONE] has still ended


class ResponsesStreamTranslator:
    """A native Responses API stream: each event passes through unchanged beside its canonical
    reading (:class:`unigate.providers.openai_responses.EventReader`)."""

    def __init__(self, public_model: str) -> None:
        self.reader = openai_responses.EventReader(public_model)
        self.done = False

    def feed(self, event: str | None, data: bytes) -> list[ChatChunk]:
        if data == b"[DONE]":
            self.done = True
            return []
        chunk = self.reader.feed(data)
        self.done = self.reader.done
        return [chunk]

    def close(self) -> list[ChatChunk]:
        return []
