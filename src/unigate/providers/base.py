"""The provider seam.

A provider turns a canonical (OpenAI-schema) request into a call to one upstream and the
answer back into canonical objects. Each provider is a package of pure translators
(``request``, ``response``, ``stream``, ``errors``) plus a small class that wires them into the
one HTTP shell (:class:`unigate.providers.shell.HttpProvider`), which does all the I/O.

What a provider can do beyond chat is said by its class's :class:`Capabilities`, read through
:func:`unigate.providers.registry.capabilities`; code outside ``providers/`` asks those flags,
never a provider's name.

Providers are constructed once per gateway by :mod:`unigate.providers.registry` with a
:class:`ProviderContext` (the shared upstream client and settings) and are stateless per request.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from unigate.providers.upstream import Upstream
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


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a provider does beyond ``chat`` / ``chat_stream``."""

    embeddings: bool = False  # implements ``embed`` (:class:`EmbeddingProvider`)
    count_tokens: bool = False  # implements ``count_tokens`` (:class:`TokenCountingProvider`)
    # accepts Anthropic Messages fields (thinking, top_k, cache_control, output_config,
    # anthropic_beta, service_tier) unchanged, so the inbound Messages surface passes them through
    anthropic_fields: bool = False
    # replays Anthropic-style signed thinking blocks from the history (others reject them)
    signed_thinking: bool = False
    # honours Anthropic ``cache_control`` marks on content parts and tools (as they are, or
    # translated into its own cache points)
    cache_marks: bool = False
    local: bool = False  # runs on the user's own machine (privacy policies treat it as local)


@dataclass
class ProviderContext:
    """What every provider instance shares: the pooled upstream client (``upstream``), the aiohttp
    session of the passthrough routes (``http``) and provider-wide settings."""

    http: aiohttp.ClientSession
    settings: dict[str, Any] = field(default_factory=dict)
    upstream: Upstream = field(default_factory=Upstream)


@runtime_checkable
class Provider(Protocol):
    """The narrow interface routing calls. ``chat_stream`` yields canonical chunks; the last
    chunk carries ``usage`` when the upstream reports it (the gateway asks for it)."""

    name: str
    capabilities: Capabilities

    async def chat(self, request: ChatRequest, deployment: Deployment) -> ChatResponse: ...

    def chat_stream(self, request: ChatRequest, deployment: Deployment) -> AsyncIterator[ChatChunk]: ...


@runtime_checkable
class EmbeddingProvider(Protocol):
    async def embed(self, request: EmbeddingRequest, deployment: Deployment) -> EmbeddingResponse: ...


@runtime_checkable
class TokenCountingProvider(Protocol):
    async def count_tokens(self, request: ChatRequest, deployment: Deployment) -> int | None: ...


@runtime_checkable
class ClosableProvider(Protocol):
    async def aclose(self) -> None: ...
