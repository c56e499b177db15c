"""Google Gemini (Developer API and Vertex AI) ⇄ the canonical form.

Pure translators: :mod:`.request` (with :mod:`.schema` for JSON-schema dialects),
:mod:`.response`, :mod:`.stream`, :mod:`.errors`; :class:`GeminiProvider` wires them into the
shared HTTP shell.
"""

from __future__ import annotations

from typing import Any

from unigate.errors import ProviderError
from unigate.providers._gemini_media import GeminiMediaMixin
from unigate.providers.base import Capabilities
from unigate.providers.gemini.errors import parse_error
from unigate.providers.gemini.request import (
    SKIP_SIGNATURE,
    build_call,
    guess_mime,
    native_headers,
    native_url,
    to_native,
)
from unigate.providers.gemini.response import FINISH_REASONS, from_native
from unigate.providers.gemini.stream import GeminiStreamState, StreamTranslator, from_native_event, stream_usage_chunk
from unigate.providers.shell import Call, HttpProvider
from unigate.types import ChatRequest, ChatResponse, Deployment

__all__ = [
    "FINISH_REASONS",
    "SKIP_SIGNATURE",
    "GeminiProvider",
    "GeminiStreamState",
    "from_native",
    "from_native_event",
    "guess_mime",
    "native_url",
    "parse_error",
    "stream_usage_chunk",
    "to_native",
]


class GeminiProvider(HttpProvider, GeminiMediaMixin):
    """Gemini Developer API and (with ``vertex_project``) Vertex AI generateContent; images and
    transcription from :class:`GeminiMediaMixin`."""

    name = "gemini"
    capabilities = Capabilities()

    async def call(self, request: ChatRequest, deployment: Deployment, stream: bool) -> Call:
        return build_call(request, deployment, stream)

    def response(self, reply: Any, deployment: Deployment) -> ChatResponse:
        return from_native(reply, deployment.public_name)

    def stream_translator(self, request: ChatRequest, deployment: Deployment) -> StreamTranslator:
        return StreamTranslator(deployment.public_name)

    def parse_error(self, status: int, raw: bytes, headers: Any) -> ProviderError:
        return parse_error(status, raw, headers, provider=self.name)

    # what the media mixin builds its calls from
    def _headers(self, deployment: Deployment) -> dict[str, str]:
        return native_headers(deployment)

    def _parse_error(self, status: int, raw: bytes, headers: Any) -> ProviderError:
        return self.parse_error(status, raw, headers)
