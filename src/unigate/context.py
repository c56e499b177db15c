"""The types every layer shares about one request: who calls, what is known so far, and the two
plug-in seams of the pipeline (request hooks and the auto selector).

A leaf module: it imports only the error tree, the canonical types and the routing trace, so
accounts/, observability/, routing/auto and the server can all depend on it without depending
on the gateway (which depends on them through the composition root).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from unigate.errors import GatewayError, model_not_found
from unigate.routing.trace import RouteTrace
from unigate.types import ChatChunk, ChatResponse, Deployment, Usage


def may_use(allowed_models: frozenset[str] | None, model: str) -> bool:
    """The one answer to "may this caller use this public model": a key without a model list may
    use every model; a key with one may use exactly those names."""
    return allowed_models is None or model in allowed_models


@dataclass(slots=True)
class Principal:
    """Who is calling. ``kind``: "anonymous" (no auth configured), "master", or "key"."""

    kind: str = "anonymous"
    key_id: str | None = None
    key_name: str | None = None
    team_id: str | None = None
    allowed_models: frozenset[str] | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def is_admin(self) -> bool:
        return self.kind in ("master", "anonymous")

    def may_use(self, model: str) -> bool:
        return may_use(self.allowed_models, model)

    def check_model(self, model: str, *, param: str = "model") -> None:
        """Refuse (404, as if the model did not exist) a model this caller may not use."""
        if not may_use(self.allowed_models, model):
            raise model_not_found(model, param=param, reason="allowed")


@dataclass(slots=True)
class RequestContext:
    """Everything known about one request, filled in as it moves through the pipeline."""

    request_id: str
    principal: Principal
    model: str
    stream: bool
    endpoint: str = "chat"  # the operation (chat, embeddings, speech, …): what hooks and pricing act on
    surface: str | None = None  # the public API it came in on when not the operation's own (responses, messages)
    started: float = field(default_factory=time.perf_counter)
    trace: RouteTrace = field(default_factory=RouteTrace)
    usage: Usage | None = None
    cost: float | None = None
    error: GatewayError | None = None
    status: str = "ok"  # ok | error | cancelled
    latency_ms: float | None = None
    extras: dict[str, Any] = field(default_factory=dict)  # hook-owned state (reservations, auto routing, …)

    @property
    def deployment(self) -> Deployment | None:
        return self.trace.deployment


class AutoSelector(Protocol):
    """Chooses a concrete public model for ``model: "auto"``-style names (see routing/auto):
    sets ``request["model"]`` to the chosen public model."""

    def handles(self, model: str) -> bool: ...

    def names(self) -> list[str]:
        """The public names it answers to (``auto``, ``auto/<policy>``), for listings and hints."""
        ...

    def describe_model(self, name: str) -> dict[str, Any]:
        """The ``/v1/models`` object of one of :meth:`names`."""
        ...

    async def select(self, ctx: RequestContext, request: dict[str, Any]) -> None: ...


class RequestHook(Protocol):
    """A plug-in around each request (limits, budgets, ledger, metrics, logs).

    Order (docs/architecture.md): ``before`` runs in the order the hooks were given to the
    Gateway, ``after`` in the reverse order, like nested ``with`` blocks. ``before`` may raise a
    GatewayError to refuse the request (the hooks before it then see their ``after``); ``after``
    runs exactly once per request that passed a hook's ``before`` — on success, failure and
    client cancellation — and must not raise.
    """

    async def before(self, ctx: RequestContext, request: dict[str, Any]) -> None: ...

    async def after(self, ctx: RequestContext) -> None: ...


class Hooks:
    """The request hooks of one pipeline, in order: ``before`` runs first to last, ``after`` last
    to first. The composition root builds it; a surface that brings a hook of its own adds it
    while registering, before the app serves (docs/architecture.md lists the resulting order)."""

    def __init__(self, hooks: Iterable[RequestHook] = ()) -> None:
        self.order: tuple[RequestHook, ...] = tuple(hooks)
        self.reverse: tuple[RequestHook, ...] = self.order[::-1]

    def add(self, hook: RequestHook) -> None:
        self.order = (*self.order, hook)
        self.reverse = self.order[::-1]

    def __iter__(self) -> Iterator[RequestHook]:
        return iter(self.order)

    def __len__(self) -> int:
        return len(self.order)


@dataclass(slots=True)
class ChatResult:
    response: ChatResponse
    context: RequestContext


@dataclass(slots=True)
class StreamResult:
    chunks: AsyncIterator[ChatChunk]
    context: RequestContext
