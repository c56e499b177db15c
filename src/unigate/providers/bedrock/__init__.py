"""AWS Bedrock Converse / ConverseStream ⇄ the canonical form.

Pure translators: :mod:`.request` (with :mod:`.auth` for bearer-token / SigV4 authorization),
:mod:`.response`, :mod:`.stream` (events the shell decoded from the AWS event-stream framing),
:mod:`.errors`; :class:`BedrockProvider` wires them into the shared HTTP shell.
"""

from __future__ import annotations

from typing import Any

from unigate.errors import ProviderError
from unigate.providers.base import Capabilities, ProviderContext
from unigate.providers.bedrock.auth import CredentialCache
from unigate.providers.bedrock.errors import error_from_exception, parse_error
from unigate.providers.bedrock.request import build_call, native_url, region_of, rerank_call, to_native
from unigate.providers.bedrock.response import STOP_REASONS, from_native
from unigate.providers.bedrock.stream import BedrockStreamState, StreamTranslator, from_native_event
from unigate.providers.shell import AwsException, Call, HttpProvider
from unigate.types import ChatRequest, ChatResponse, Deployment

__all__ = [
    "STOP_REASONS",
    "BedrockProvider",
    "BedrockStreamState",
    "error_from_exception",
    "from_native",
    "from_native_event",
    "native_url",
    "parse_error",
    "region_of",
    "to_native",
]


class BedrockProvider(HttpProvider):
    """Bedrock Converse over the shared aiohttp session; SigV4 or API-key auth."""

    name = "bedrock"
    framing = "aws-eventstream"
    capabilities = Capabilities(signed_thinking=True, cache_marks=True)

    def __init__(self, context: ProviderContext) -> None:
        super().__init__(context)
        self.credentials = CredentialCache()

    async def call(self, request: ChatRequest, deployment: Deployment, stream: bool) -> Call:
        return await build_call(request, deployment, stream, self.credentials)

    def response(self, reply: Any, deployment: Deployment) -> ChatResponse:
        return from_native(reply, deployment.public_name)

    def stream_translator(self, request: ChatRequest, deployment: Deployment) -> StreamTranslator:
        return StreamTranslator(deployment.public_name)

    def parse_error(self, status: int, raw: bytes, headers: Any) -> ProviderError:
        return parse_error(status, raw, headers)

    def stream_exception(self, exception: AwsException) -> ProviderError:
        return error_from_exception(exception.kind, exception.message, None, exception.raw[:2000])

    async def rerank(self, request: dict[str, Any], deployment: Deployment) -> dict[str, Any]:
        """Rerank models (Cohere Rerank, Amazon Rerank) through InvokeModel."""
        from unigate.providers.media import rerank_reply

        reply = await self.post(await rerank_call(request, deployment, self.credentials), deployment)
        return rerank_reply(reply.get("results") or [], request, deployment.public_name)
