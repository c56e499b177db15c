"""Counting a prompt's input tokens as a pipeline operation (``POST /v1/messages/count_tokens``
is its surface), so it passes the same access check, hooks (rate limits), routing and fallbacks
as the request it precedes.

A provider that can count (:class:`TokenCounter`) is asked; otherwise, or if asking fails, the
count is a documented estimate, so a client always gets a number.
"""

from __future__ import annotations

import logging
import math
from typing import Any, Protocol, runtime_checkable

import orjson

from unigate.errors import GatewayError
from unigate.operations import Operation
from unigate.providers.base import Provider
from unigate.types import ChatRequest, Deployment, Usage

log = logging.getLogger("unigate.operations")

IMAGE_TOKENS = 1600  # Anthropic's documented cost of a ~1.15 megapixel image


@runtime_checkable
class TokenCounter(Protocol):
    """A provider with a token-counting endpoint of its own."""

    async def count_tokens(self, request: ChatRequest, deployment: Deployment) -> int | None: ...


def estimate_tokens(request: ChatRequest) -> int:
    """A rough count (≈4 characters a token, images at Anthropic's documented size) for upstreams
    that have no token-counting endpoint."""
    chars = 0
    images = 0
    for message in request["messages"]:
        chars += 16  # role and turn framing
        content = message.get("content")
        parts = [{"type": "text", "text": content}] if isinstance(content, str) else content or []
        for part in parts:
            if part.get("type") == "text":
                chars += len(part.get("text") or "")
            elif part.get("type") in ("image_url", "file"):
                images += 1
        for call in message.get("tool_calls") or ():
            chars += len(orjson.dumps(call.get("function") or {}))
        for block in message.get("thinking_blocks") or ():
            chars += len(block.get("thinking") or "")
    for tool in request.get("tools") or ():
        chars += len(orjson.dumps(tool))
    return max(1, math.ceil(chars / 4) + images * IMAGE_TOKENS)


async def count(provider: Provider, request: ChatRequest, deployment: Deployment) -> dict[str, int]:
    counted: int | None = None
    try:
        if isinstance(provider, TokenCounter):
            counted = await provider.count_tokens(request, deployment)
        elif provider.name == "anthropic":
            counted = await _anthropic_count(provider, request, deployment)
    except GatewayError as exc:
        log.info("count_tokens upstream failed, estimating instead: %r", exc)
    return {"input_tokens": counted if counted is not None else estimate_tokens(request)}


async def _anthropic_count(provider: Any, request: ChatRequest, deployment: Deployment) -> int | None:
    """Anthropic's own count_tokens endpoint. A bridge until the Anthropic provider package
    implements :class:`TokenCounter` itself (the wire details belong in providers/)."""
    from unigate.providers import anthropic
    from unigate.providers._http import post_json

    native = anthropic.to_native(request, deployment, stream=False)
    for name in ("max_tokens", "stream", "metadata", "temperature", "top_p", "top_k", "stop_sequences"):
        native.pop(name, None)
    reply = await post_json(
        provider.http,
        anthropic.messages_url(deployment) + "/count_tokens",
        orjson.dumps(native),
        anthropic.native_headers(request, deployment),
        deployment.timeouts,
        anthropic.PROVIDER,
        anthropic.parse_error,
    )
    tokens = reply.get("input_tokens") if isinstance(reply, dict) else None
    return tokens if isinstance(tokens, int) else None


def _no_usage(result: dict[str, int]) -> Usage | None:
    return None  # counting is free: nothing to price or charge


COUNT_TOKENS: Operation[ChatRequest, dict[str, int]] = Operation("count_tokens", count, _no_usage, pricing="free")
