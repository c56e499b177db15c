"""The provider seam.

A provider turns a canonical (OpenAI-schema) request into a call to one upstream and the
answer back into canonical objects. Each provider module keeps its translation as pure
functions (``to_native``, ``from_native``, ``from_native_event``, ``parse_error``) and a small
class implementing :class:`Provider` that does the I/O with the gateway's shared HTTP session.

Providers are constructed once per gateway by :mod:`unigate.providers.registry` with a
:class:`ProviderContext` (shared ``aiohttp`` session and settings) and are stateless per request.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from unigate.types import (
    ChatChunk,
    ChatRequest,
    ChatResponse,
    Deployment,
    EmbeddingRequest,
    EmbeddingResponse,
)

if TYPE_CHECKING:
    import aiohttp


@dataclass
class ProviderContext:
    """What every provider instance shares: the pooled HTTP session and provider-wide settings."""

    http: aiohttp.ClientSession
    settings: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class Provider(Protocol):
    """The narrow interface routing calls. ``chat_stream`` yields canonical chunks; the last
    chunk carries ``usage`` when the upstream reports it (the gateway asks for it)."""

    name: str

    async def chat(self, request: ChatRequest, deployment: Deployment) -> ChatResponse: ...

    def chat_stream(self, request: ChatRequest, deployment: Deployment) -> AsyncIterator[ChatChunk]: ...


@runtime_checkable
class EmbeddingProvider(Protocol):
    async def embed(self, request: EmbeddingRequest, deployment: Deployment) -> EmbeddingResponse: ...


@runtime_checkable
class ClosableProvider(Protocol):
    async def aclose(self) -> None: ...
