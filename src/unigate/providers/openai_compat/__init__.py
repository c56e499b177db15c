"""Every OpenAI-compatible upstream: rows of one table (:mod:`.table`) and the few translators
that normalise what they say differently (:mod:`.request`, :mod:`.response`, :mod:`.stream`,
:mod:`.errors`), wired into the shared HTTP shell by :class:`OpenAICompatProvider`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, cast

from unigate.errors import ProviderError
from unigate.providers import openai_responses
from unigate.providers._openai_media import OpenAIMediaMixin
from unigate.providers.base import Capabilities, ProviderContext
from unigate.providers.openai_compat.errors import parse_error
from unigate.providers.openai_compat.request import (
    GATEWAY_FIELDS,
    build_call,
    embedding_call,
    headers,
    responses_call,
    to_native,
    url,
)
from unigate.providers.openai_compat.response import from_native
from unigate.providers.openai_compat.stream import ResponsesStreamTranslator, StreamTranslator, from_native_event
from unigate.providers.openai_compat.table import COMPAT_PROVIDERS, CompatRow, serves_responses
from unigate.providers.shell import Call, HttpProvider
from unigate.types import ChatChunk, ChatRequest, ChatResponse, Deployment, EmbeddingRequest, EmbeddingResponse

__all__ = [
    "COMPAT_PROVIDERS",
    "GATEWAY_FIELDS",
    "CompatRow",
    "OpenAICompatProvider",
    "from_native",
    "from_native_event",
    "parse_error",
    "serves_responses",
    "to_native",
]


class OpenAICompatProvider(HttpProvider, OpenAIMediaMixin):
    """One instance per row; the deployment says which model, base URL and key to use.
    Audio, images, moderation and rerank come from :class:`OpenAIMediaMixin`."""

    def __init__(self, name: str, row: CompatRow, context: ProviderContext) -> None:
        super().__init__(context)
        self.name = name
        self.row = row
        self.capabilities = self.capabilities_of(row)  # type: ignore[misc]

    @staticmethod
    def capabilities_of(row: CompatRow) -> Capabilities:
        return Capabilities(embeddings=True, local=row.local)

    async def call(self, request: ChatRequest, deployment: Deployment, stream: bool) -> Call:
        return build_call(request, deployment, self.row, stream)

    def _native_responses(self, request: ChatRequest, deployment: Deployment) -> bool:
        return openai_responses.wants_native(request) and serves_responses(deployment)

    async def chat(self, request: ChatRequest, deployment: Deployment) -> ChatResponse:
        if self._native_responses(request, deployment):
            reply = await self.post(responses_call(request, deployment, self.row, stream=False), deployment)
            return openai_responses.from_native(reply, deployment.public_name)
        return await super().chat(request, deployment)

    async def chat_stream(self, request: ChatRequest, deployment: Deployment) -> AsyncIterator[ChatChunk]:
        if self._native_responses(request, deployment):
            call = responses_call(request, deployment, self.row, stream=True)
            translator: Any = ResponsesStreamTranslator(deployment.public_name)
        else:
            call, translator = await self.call(request, deployment, True), self.stream_translator(request, deployment)
        async for chunk in self.stream(call, translator, deployment):
            yield chunk

    def response(self, reply: Any, deployment: Deployment) -> ChatResponse:
        return from_native(reply, deployment.public_name)

    def stream_translator(self, request: ChatRequest, deployment: Deployment) -> StreamTranslator:
        return StreamTranslator(deployment.public_name)

    def parse_error(self, status: int, raw: bytes, headers: Any) -> ProviderError:
        return parse_error(self.name, status, raw, headers)

    # what the media mixin builds its calls from
    def _url(self, deployment: Deployment, path: str) -> str:
        return url(self.row, deployment, path)

    def _headers(self, deployment: Deployment) -> dict[str, str]:
        return headers(self.row, deployment)

    def _parse_error(self, status: int, raw: bytes, headers: Any) -> ProviderError:
        return self.parse_error(status, raw, headers)

    async def embed(self, request: EmbeddingRequest, deployment: Deployment) -> EmbeddingResponse:
        reply: dict[str, Any] = await self.post(embedding_call(request, deployment, self.row), deployment)
        reply["model"] = deployment.public_name
        return cast(EmbeddingResponse, reply)
