"""Counting a prompt's input tokens as a pipeline operation (``POST /v1/messages/count_tokens``
is its surface), so it passes the same access check, hooks (rate limits), routing and fallbacks
as the request it precedes.

A provider that can count (:class:`~unigate.providers.base.TokenCountingProvider`, e.g.
Anthropic's) is asked; otherwise, or if asking fails, the count is a documented estimate, so a
client always gets a number.
"""

from __future__ import annotations

import logging
import math

import orjson

from unigate.errors import GatewayError
from unigate.operations import Operation
from unigate.providers.base import Provider, TokenCountingProvider
from unigate.types import ChatRequest, Deployment, Usage

log = logging.getLogger("unigate.operations")

IMAGE_TOKENS = 1600  # Anthropic's documented cost of a ~1.15 megapixel image


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


async def count(provider: Provider, request: ChatRequest, deployment: Deployment) -> int:
    counted: int | None = None
    if isinstance(provider, TokenCountingProvider):
        try:
            counted = await provider.count_tokens(request, deployment)
        except GatewayError as exc:
            log.info("count_tokens upstream failed, estimating instead: %r", exc)
    return counted if counted is not None else estimate_tokens(request)


def _no_usage(result: int) -> Usage | None:
    return None  # counting is free: nothing to price or charge


COUNT_TOKENS: Operation[ChatRequest, int] = Operation("count_tokens", count, _no_usage, pricing="free")
