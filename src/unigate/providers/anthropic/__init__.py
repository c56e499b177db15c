"""Anthropic Messages API ⇄ the canonical form.

Pure translators: :mod:`.request` (canonical request → ``/v1/messages`` call), :mod:`.response`
(reply → canonical response), :mod:`.stream` (SSE events → chunks), :mod:`.errors` (error bodies
and events → the error tree), with the mapping facts in :mod:`.tables`, which :mod:`.inbound` (the
Anthropic-compatible surface's wire format) reads in the other direction.
:class:`AnthropicProvider` wires them into the shared HTTP shell.
"""

from __future__ import annotations

from typing import Any

from unigate.errors import ProviderError
from unigate.providers.anthropic.errors import PROVIDER, error_from_payload, parse_error
from unigate.providers.anthropic.request import (
    build_call,
    count_tokens_call,
    default_max_tokens,
    messages_url,
    native_headers,
    to_native,
)
from unigate.providers.anthropic.response import finish_reason, from_native, usage_from_native
from unigate.providers.anthropic.stream import StreamTranslator
from unigate.providers.anthropic.tables import ERROR_TYPE_STATUS
from unigate.providers.base import Capabilities
from unigate.providers.shell import Call, HttpProvider
from unigate.types import ChatRequest, ChatResponse, Deployment

__all__ = [
    "ERROR_TYPE_STATUS",
    "PROVIDER",
    "AnthropicProvider",
    "StreamTranslator",
    "default_max_tokens",
    "error_from_payload",
    "finish_reason",
    "from_native",
    "messages_url",
    "native_headers",
    "parse_error",
    "to_native",
    "usage_from_native",
]


class AnthropicProvider(HttpProvider):
    name = PROVIDER
    capabilities = Capabilities(count_tokens=True, anthropic_fields=True, signed_thinking=True, cache_marks=True)

    async def call(self, request: ChatRequest, deployment: Deployment, stream: bool) -> Call:
        return build_call(request, deployment, stream)

    def response(self, reply: Any, deployment: Deployment) -> ChatResponse:
        return from_native(reply, deployment.public_name)

    def stream_translator(self, request: ChatRequest, deployment: Deployment) -> StreamTranslator:
        return StreamTranslator(deployment.public_name)

    def parse_error(self, status: int, raw: bytes, headers: Any) -> ProviderError:
        return parse_error(status, raw, headers)

    async def count_tokens(self, request: ChatRequest, deployment: Deployment) -> int | None:
        """Anthropic's own count for this prompt (``None`` if the reply has none)."""
        reply = await self.post(count_tokens_call(request, deployment), deployment)
        tokens = reply.get("input_tokens") if isinstance(reply, dict) else None
        return tokens if isinstance(tokens, int) else None
