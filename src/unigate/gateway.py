"""Gateway: the one pipeline every request goes through, with no HTTP details of its own.

Per request: auto routing (``model: "auto…"`` → a public model) → resolve the model group →
access check → hooks' ``before`` (limits, budget reservation) → routing (try, retry, fall back,
health, trace) → the provider → cost from the catalog → hooks' ``after`` (settle, ledger,
metrics, logs; in reverse order). ``chat`` / ``chat_stream`` are that pipeline for chat;
``run(operation, …)`` is the same for any other operation (embeddings, token counts, …).

Everything the pipeline uses is given to the constructor (the server builds it in
:mod:`unigate.composition`); with nothing but a config it is a bare gateway usable in-process.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Iterable, Mapping
from typing import Any, TypeVar, cast

from unigate.catalog import Catalog, ModelInfo
from unigate.config import GatewayConfig
from unigate.context import (
    AutoSelector,
    ChatResult,
    Principal,
    RequestContext,
    RequestHook,
    StreamResult,
    may_use,
)
from unigate.errors import BadRequest, GatewayError, model_not_found
from unigate.operations import Operation
from unigate.operations.embeddings import EMBEDDINGS
from unigate.providers._http import new_session
from unigate.providers.base import ProviderContext
from unigate.providers.registry import ProviderSet
from unigate.routing.groups import ModelGroup, ModelGroups
from unigate.routing.health import Health
from unigate.routing.router import Router
from unigate.routing.stats import Stats
from unigate.types import (
    ChatChunk,
    ChatRequest,
    EmbeddingRequest,
    EmbeddingResponse,
    Usage,
    as_json,
    new_request_id,
)

__all__ = ["ChatResult", "Gateway", "Principal", "RequestContext", "StreamResult"]

_T = TypeVar("_T")
_R = TypeVar("_R")
MAX_MODEL_NAME = 200  # characters: the ledger's model column (a longer name could never be recorded)


class Gateway:
    def __init__(
        self,
        config: GatewayConfig,
        *,
        catalog: Catalog | None = None,
        groups: ModelGroups | None = None,
        hooks: Iterable[RequestHook] = (),
        auto: AutoSelector | None = None,
        health: Health | None = None,
        stats: Stats | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        """``hooks``: ``before`` runs in this order, ``after`` in the reverse order.
        ``environ``: where provider keys are looked up (default: the process environment)."""
        self.config = config
        self.catalog = catalog or (groups.catalog if groups is not None else Catalog())
        self.groups = groups if groups is not None else ModelGroups.from_config(config, self.catalog, environ)
        self.hooks: tuple[RequestHook, ...] = tuple(hooks)
        self._hooks_after = self.hooks[::-1]
        self.auto = auto
        self.health = health or Health()  # deployment cooldowns (read by /health/ready and metrics)
        self.stats = stats or Stats()  # per-deployment load and latency (read by strategies, auto)
        self.providers: ProviderSet | None = None
        self.router: Router | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Open the shared HTTP session; call from inside the running event loop."""
        if self.providers is not None:
            return
        self.providers = ProviderSet(ProviderContext(http=new_session()))
        capabilities = {m.name: m.capabilities for m in self.config.models if m.capabilities is not None}
        self.router = Router(
            self.groups,
            self.providers,
            catalog=self.catalog,
            health=self.health,
            stats=self.stats,
            capabilities=capabilities,
        )

    async def aclose(self) -> None:
        if self.providers is None:
            return
        await self.providers.aclose()
        await self.providers.context.http.close()
        self.providers = None
        self.router = None

    async def __aenter__(self) -> Gateway:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # -- the pipeline ------------------------------------------------------------------------

    def _router(self) -> Router:
        if self.router is None:
            raise RuntimeError("Gateway.start() has not been called")
        return self.router

    async def _admit(
        self, request: dict[str, Any], principal: Principal | None, stream: bool, endpoint: str, request_id: str | None
    ) -> tuple[RequestContext, ModelGroup]:
        """Everything before routing: context, auto routing, model group, access, hooks' before."""
        model = request["model"]
        if isinstance(model, str) and len(model) > MAX_MODEL_NAME:
            raise BadRequest(
                f"'model' is {len(model)} characters long; at most {MAX_MODEL_NAME} are accepted.",
                param="model",
                code="invalid_value",
            )
        ctx = RequestContext(
            request_id=request_id or new_request_id(),
            principal=principal or Principal(),
            model=model,
            stream=stream,
            endpoint=endpoint,
        )
        if self.auto is not None and self.auto.handles(ctx.model):
            await self.auto.select(ctx, request)  # rewrites request["model"] to the chosen model
            ctx.model = request["model"]
        group = self.groups.resolve(ctx.model)
        if group is None:
            raise model_not_found(ctx.model)
        if not may_use(ctx.principal.allowed_models, ctx.model):
            raise model_not_found(ctx.model, reason="allowed")
        for index, hook in enumerate(self.hooks):
            try:
                await hook.before(ctx, request)
            except BaseException:
                # the hooks that already admitted the request release what they hold
                ctx.status = "error"
                for earlier in self.hooks[index - 1 :: -1] if index else ():
                    await earlier.after(ctx)
                raise
        return ctx, group

    async def _finish(self, ctx: RequestContext) -> None:
        ctx.latency_ms = (time.perf_counter() - ctx.started) * 1e3
        for hook in self._hooks_after:
            await hook.after(ctx)

    def _price(self, ctx: RequestContext, usage: Usage | None) -> None:
        deployment = ctx.trace.deployment
        ctx.usage = usage
        if usage is not None and deployment is not None:
            ctx.cost = self.catalog.cost(deployment.provider, deployment.model, usage, deployment.public_name)
            if ctx.cost is not None:
                usage["cost"] = ctx.cost

    async def _routed(self, ctx: RequestContext, call: Awaitable[_T]) -> _T:
        """Await routing; if it fails (or the caller goes away) the hooks still see the request end."""
        try:
            return await call
        except GatewayError as exc:
            ctx.error, ctx.status = exc, "error"
            await self._finish(ctx)
            raise
        except BaseException:
            ctx.status = "cancelled"
            await self._finish(ctx)
            raise

    async def run(
        self,
        operation: Operation[_R, _T],
        request: _R,
        principal: Principal | None = None,
        *,
        request_id: str | None = None,
    ) -> tuple[_T, RequestContext]:
        """Any non-streamed operation through the whole pipeline."""
        body = cast(dict[str, Any], request)  # what every stage before the provider reads: a JSON object
        ctx, group = await self._admit(body, principal, False, operation.endpoint, request_id)
        router = self._router()
        result = await self._routed(
            ctx, router.route(request, group, ctx.trace, operation.call, allowed=ctx.principal.allowed_models)
        )
        self._price(ctx, operation.usage(result))
        await self._finish(ctx)
        return result, ctx

    async def chat(
        self, request: ChatRequest, principal: Principal | None = None, *, request_id: str | None = None
    ) -> ChatResult:
        ctx, group = await self._admit(as_json(request), principal, False, "chat", request_id)
        router = self._router()
        response = await self._routed(ctx, router.chat(request, group, ctx.trace, allowed=ctx.principal.allowed_models))
        self._price(ctx, response.get("usage"))
        await self._finish(ctx)
        return ChatResult(response, ctx)

    async def chat_stream(
        self, request: ChatRequest, principal: Principal | None = None, *, request_id: str | None = None
    ) -> StreamResult:
        """Route a streaming request. Returns once the first content chunk is in hand, so a
        failure before it can still fall back and the caller may still answer with an error."""
        ctx, group = await self._admit(as_json(request), principal, True, "chat", request_id)
        router = self._router()
        chunks = await self._routed(
            ctx, router.chat_stream(request, group, ctx.trace, allowed=ctx.principal.allowed_models)
        )
        include_usage = bool((request.get("stream_options") or {}).get("include_usage"))
        return StreamResult(self._settle_stream(ctx, chunks, include_usage), ctx)

    async def _settle_stream(
        self, ctx: RequestContext, chunks: AsyncIterator[ChatChunk], include_usage: bool
    ) -> AsyncIterator[ChatChunk]:
        usage: Usage | None = None
        try:
            async for chunk in chunks:
                chunk_usage = chunk.get("usage")
                if chunk_usage:
                    usage = chunk_usage
                    self._price(ctx, usage)
                    if not include_usage:
                        # the gateway always asks upstream for usage (to account for it); the
                        # client sees it only if it asked
                        if not chunk.get("choices"):
                            continue
                        chunk = chunk.copy()
                        del chunk["usage"]
                yield chunk
        except GatewayError as exc:
            ctx.error, ctx.status = exc, "error"
            raise
        except BaseException:
            ctx.status = "cancelled"
            raise
        finally:
            if usage is None:
                ctx.usage = None
            await self._finish(ctx)

    async def embed(
        self, request: EmbeddingRequest, principal: Principal | None = None, *, request_id: str | None = None
    ) -> tuple[EmbeddingResponse, RequestContext]:
        return await self.run(EMBEDDINGS, request, principal, request_id=request_id)

    # -- models (owned by routing.groups; here for in-process callers) ------------------------

    def find_group(self, name: str) -> ModelGroup | None:
        """The group the router would use for ``name``, without remembering a dynamic one."""
        return self.groups.find(name)

    def model_info(self, name: str) -> ModelInfo | None:
        return self.groups.info(name)

    def list_models(self) -> list[dict[str, Any]]:
        return [self.groups.describe(name) for name in self.groups]

    def describe_model(self, name: str) -> dict[str, Any]:
        return self.groups.describe(name)
