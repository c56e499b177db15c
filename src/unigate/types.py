"""Canonical request, response and stream-chunk types.

The canonical form *is* the OpenAI chat-completions wire schema, kept as plain dicts:
the hot path parses a request body once with orjson and forwards it without a model
round-trip, and every provider translates from/to this one shape.

- ``ChatRequest``  – an OpenAI ``/v1/chat/completions`` request body (validated by
  ``server/validation.py``; unknown fields are kept so OpenAI-compatible upstreams get them).
- ``ChatResponse`` – an OpenAI ``chat.completion`` object.
- ``ChatChunk``    – an OpenAI ``chat.completion.chunk`` object.
- ``Usage``        – OpenAI ``usage``: prompt_tokens, completion_tokens, total_tokens, and the
  optional ``prompt_tokens_details.cached_tokens`` / ``completion_tokens_details.reasoning_tokens``.

Extensions carried for the Responses API surface (``/v1/responses``), for upstreams that speak
the Responses API natively (they get the client's request and answer without translation):

- ``RESPONSES_REQUEST`` on a ``ChatRequest``: the client's Responses request body.
- ``RESPONSES_OBJECT`` on a ``ChatResponse``: the upstream's own ``response`` object.
- ``RESPONSES_EVENT`` on a ``ChatChunk``: the upstream's own stream event.

A ``Deployment`` is one concrete place a public model name can be served from.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from random import getrandbits
from typing import Any

JSON = dict[str, Any]
RESPONSES_REQUEST = "unigate_responses_request"
RESPONSES_OBJECT = "unigate_responses_object"
RESPONSES_EVENT = "unigate_responses_event"
ChatRequest = dict[str, Any]
ChatResponse = dict[str, Any]
ChatChunk = dict[str, Any]
Usage = dict[str, Any]
EmbeddingRequest = dict[str, Any]
EmbeddingResponse = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Per-deployment timeouts in seconds: TCP connect, time to first byte/token, whole request."""

    connect: float = 5.0
    first_token: float = 60.0
    total: float = 600.0


@dataclass(frozen=True, slots=True)
class Deployment:
    """One upstream that can serve a public model: a provider, its model id, where and how to call it."""

    id: str  # stable, unique within the gateway: "<public name>#<index>" unless named in config
    public_name: str
    provider: str
    model: str
    api_base: str | None = None
    api_key: str | None = None
    weight: float = 1.0
    headers: tuple[tuple[str, str], ...] = ()
    timeouts: Timeouts = field(default_factory=Timeouts)
    # provider-specific settings (azure api_version, bedrock region, local model path, …)
    options: tuple[tuple[str, Any], ...] = ()
    rpm: int | None = None
    tpm: int | None = None

    def option(self, name: str, default: Any = None) -> Any:
        for key, value in self.options:
            if key == name:
                return value
        return default


# Ids need to be unique, not secret: random bits are ~8x cheaper than uuid4 on the hot path.
def new_request_id() -> str:
    return f"req_{getrandbits(128):032x}"


def new_completion_id() -> str:
    return f"chatcmpl-{getrandbits(96):024x}"


def now() -> int:
    return int(time.time())


def make_usage(prompt: int, completion: int, cached: int = 0, reasoning: int = 0) -> Usage:
    usage: Usage = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }
    if cached:
        usage["prompt_tokens_details"] = {"cached_tokens": cached}
    if reasoning:
        usage["completion_tokens_details"] = {"reasoning_tokens": reasoning}
    return usage


def make_response(
    model: str,
    message: JSON,
    finish_reason: str | None,
    usage: Usage | None,
    response_id: str | None = None,
    created: int | None = None,
) -> ChatResponse:
    """Build a one-choice ``chat.completion`` object."""
    response: ChatResponse = {
        "id": response_id or new_completion_id(),
        "object": "chat.completion",
        "created": created or now(),
        "model": model,
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish_reason}],
    }
    if usage is not None:
        response["usage"] = usage
    return response


def make_chunk(
    response_id: str,
    model: str,
    delta: JSON | None,
    finish_reason: str | None = None,
    created: int | None = None,
    usage: Usage | None = None,
) -> ChatChunk:
    """Build a ``chat.completion.chunk``; ``delta=None`` makes the usage-only final chunk."""
    chunk: ChatChunk = {
        "id": response_id,
        "object": "chat.completion.chunk",
        "created": created or now(),
        "model": model,
        "choices": []
        if delta is None
        else [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}],
    }
    if usage is not None:
        chunk["usage"] = usage
    return chunk
