"""Cohere v2 chat ⇄ the canonical form.

Pure translators: :mod:`.request`, :mod:`.response`, :mod:`.stream`, :mod:`.errors`;
:class:`CohereProvider` wires them into the shared HTTP shell.
"""

from __future__ import annotations

from typing import Any

from unigate.errors import ProviderError
from unigate.providers.base import Capabilities
from unigate.providers.cohere.errors import PROVIDER, parse_error
from unigate.providers.cohere.request import build_call, chat_url, native_headers, rerank_call, to_native
from unigate.providers.cohere.response import finish_reason, from_native, usage_from_native
from unigate.providers.cohere.stream import StreamTranslator
from unigate.providers.shell import Call, HttpProvider
from unigate.types import ChatRequest, ChatResponse, Deployment

__all__ = [
    "PROVIDER",
    "CohereProvider",
    "StreamTranslator",
    "chat_url",
    "finish_reason",
    "from_native",
    "native_headers",
    "parse_error",
    "to_native",
    "usage_from_native",
]


class CohereProvider(HttpProvider):
    name = PROVIDER
    capabilities = Capabilities()

    async def call(self, request: ChatRequest, deployment: Deployment, stream: bool) -> Call:
        return build_call(request, deployment, stream)

    def response(self, reply: Any, deployment: Deployment) -> ChatResponse:
        return from_native(reply, deployment.public_name)

    def stream_translator(self, request: ChatRequest, deployment: Deployment) -> StreamTranslator:
        return StreamTranslator(deployment.public_name)

    def parse_error(self, status: int, raw: bytes, headers: Any) -> ProviderError:
        return parse_error(status, raw, headers)

    async def rerank(self, request: dict[str, Any], deployment: Deployment) -> dict[str, Any]:
        """Cohere's ``POST /v2/rerank``; documents go back from the request when asked for."""
        from unigate.providers.media import rerank_reply

        reply = await self.post(rerank_call(request, deployment), deployment)
        answer = rerank_reply(reply.get("results") or [], request, deployment.public_name)
        units = ((reply.get("meta") or {}).get("billed_units") or {}).get("search_units")
        if units:
            answer["meta"]["billed_units"]["search_units"] = int(units)
        return answer
