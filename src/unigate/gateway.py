"""Gateway: the orchestration of one request, with no HTTP details of its own.

``Gateway.chat`` / ``chat_stream`` / ``embed`` are what the server calls and what a Python
program can call in-process. Per request: resolve the model → pre-request hooks (limits,
budget reservation) → routing (try, retry, fall back) → cost from the catalog → post-request
hooks (settle, ledger, metrics, logs). Hooks are plug-ins; with none configured the path is
just resolve → route → respond.
"""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from unigate.catalog import Catalog, ModelInfo, Price
from unigate.config import GatewayConfig, ModelConfig
from unigate.errors import BadRequest, GatewayError, NotFound
from unigate.providers.base import EmbeddingProvider, ProviderContext
from unigate.providers.registry import LOCAL_PROVIDERS, ProviderSet, discoverable_providers, key_env
from unigate.providers.shell import new_session
from unigate.routing.health import Health
from unigate.routing.router import ModelGroup, Router, RouteTrace
from unigate.types import (
    ChatChunk,
    ChatRequest,
    ChatResponse,
    Deployment,
    EmbeddingRequest,
    EmbeddingResponse,
    Timeouts,
    Usage,
    as_json,
    new_request_id,
)

_T = TypeVar("_T")
MAX_DYNAMIC_GROUPS = 1000  # "provider/<any model>" groups remembered for routing statistics
MAX_MODEL_NAME = 200  # characters: the ledger's model column (a longer name could never be recorded)


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


@dataclass(slots=True)
class RequestContext:
    """Everything known about one request, filled in as it moves through the gateway."""

    request_id: str
    principal: Principal
    model: str
    stream: bool
    endpoint: str = "chat"
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
    """Chooses a concrete public model for ``model: "auto"``-style names (see routing/auto)."""

    def handles(self, model: str) -> bool: ...

    async def select(self, gateway: Gateway, ctx: RequestContext, request: dict[str, Any]) -> None: ...


class RequestHook(Protocol):
    """A plug-in around each request (limits, budgets, ledger, metrics, logs).

    ``before`` may raise a GatewayError to refuse the request; ``after`` runs exactly once per
    request that passed ``before`` — on success, failure and client cancellation — and must
    not raise.
    """

    async def before(self, ctx: RequestContext, request: dict[str, Any]) -> None: ...

    async def after(self, ctx: RequestContext) -> None: ...


@dataclass(slots=True)
class ChatResult:
    response: ChatResponse
    context: RequestContext


@dataclass(slots=True)
class StreamResult:
    chunks: AsyncIterator[ChatChunk]
    context: RequestContext


class Gateway:
    def __init__(self, config: GatewayConfig, *, environ: dict[str, str] | None = None) -> None:
        self.config = config
        self.catalog = Catalog()
        self.hooks: list[RequestHook] = []
        self.auto: AutoSelector | None = None
        self._dynamic_names = 0
        self._environ = dict(os.environ if environ is None else environ)
        self.groups = build_groups(config, self.catalog, self._environ)
        self.providers: ProviderSet | None = None
        self.router: Router | None = None
        self.health = Health()  # deployment cooldowns; routing.install swaps in a shared store

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Open the shared HTTP session; call from inside the running event loop."""
        if self.providers is not None:
            return
        self.providers = ProviderSet(ProviderContext(http=new_session()))
        capabilities = {m.name: m.capabilities for m in self.config.models if m.capabilities is not None}
        self.router = Router(
            self.groups, self.providers, catalog=self.catalog, health=self.health, capabilities=capabilities
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

    def add_hook(self, hook: RequestHook) -> None:
        self.hooks.append(hook)

    # -- requests ----------------------------------------------------------------------------

    def _context(
        self,
        request: dict[str, Any],
        principal: Principal | None,
        stream: bool,
        endpoint: str,
        request_id: str | None,
    ) -> RequestContext:
        model = request["model"]
        if isinstance(model, str) and len(model) > MAX_MODEL_NAME:
            raise BadRequest(
                f"'model' is {len(model)} characters long; at most {MAX_MODEL_NAME} are accepted.",
                param="model",
                code="invalid_value",
            )
        return RequestContext(
            request_id=request_id or new_request_id(),
            principal=principal or Principal(),
            model=request["model"],
            stream=stream,
            endpoint=endpoint,
        )

    def _router(self) -> Router:
        if self.router is None:
            raise RuntimeError("Gateway.start() has not been called")
        return self.router

    async def _before(self, ctx: RequestContext, request: dict[str, Any]) -> ModelGroup:
        router = self._router()
        if self.auto is not None and self.auto.handles(ctx.model):
            # auto routing rewrites request["model"] to the chosen public model
            await self.auto.select(self, ctx, request)
            ctx.model = request["model"]
        group = router.groups.get(ctx.model) or self._dynamic_group(ctx.model)
        if group is None:
            raise NotFound(
                f"The model '{ctx.model}' does not exist or is not served by this gateway.",
                code="model_not_found",
                param="model",
            )
        allowed = ctx.principal.allowed_models
        if allowed is not None and ctx.model not in allowed:
            raise NotFound(
                f"The model '{ctx.model}' does not exist or is not available to this key.",
                code="model_not_found",
                param="model",
            )
        for index, hook in enumerate(self.hooks):
            try:
                await hook.before(ctx, request)
            except BaseException:
                # hooks that already admitted the request must release what they hold
                ctx.status = "error"
                for earlier in self.hooks[:index]:
                    await earlier.after(ctx)
                raise
        return group

    async def _after(self, ctx: RequestContext) -> None:
        ctx.latency_ms = (time.perf_counter() - ctx.started) * 1e3
        for hook in self.hooks:
            await hook.after(ctx)

    def _price(self, ctx: RequestContext, usage: Usage | None) -> None:
        deployment = ctx.trace.deployment
        ctx.usage = usage
        if usage is not None and deployment is not None:
            ctx.cost = self.catalog.cost(deployment.provider, deployment.model, usage, deployment.public_name)
            if ctx.cost is not None:
                usage["cost"] = ctx.cost

    async def chat(
        self, request: ChatRequest, principal: Principal | None = None, *, request_id: str | None = None
    ) -> ChatResult:
        ctx = self._context(as_json(request), principal, False, "chat", request_id)
        group = await self._before(ctx, as_json(request))
        router = self._router()
        response = await self._routed(ctx, router.chat(request, group, ctx.trace, allowed=ctx.principal.allowed_models))
        self._price(ctx, response.get("usage"))
        await self._after(ctx)
        return ChatResult(response, ctx)

    async def chat_stream(
        self, request: ChatRequest, principal: Principal | None = None, *, request_id: str | None = None
    ) -> StreamResult:
        """Route a streaming request. Returns once the first content chunk is in hand, so a
        failure before it can still fall back and the caller may still answer with an error."""
        ctx = self._context(as_json(request), principal, True, "chat", request_id)
        group = await self._before(ctx, as_json(request))
        router = self._router()
        chunks = await self._routed(
            ctx, router.chat_stream(request, group, ctx.trace, allowed=ctx.principal.allowed_models)
        )
        include_usage = bool((request.get("stream_options") or {}).get("include_usage"))
        return StreamResult(self._settle_stream(ctx, chunks, include_usage), ctx)

    async def _routed(self, ctx: RequestContext, call: Awaitable[_T]) -> _T:
        """Await routing; if it fails (or the caller goes away) the hooks still see the request end."""
        try:
            return await call
        except GatewayError as exc:
            ctx.error, ctx.status = exc, "error"
            await self._after(ctx)
            raise
        except BaseException:
            ctx.status = "cancelled"
            await self._after(ctx)
            raise

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
            await self._after(ctx)

    async def embed(
        self, request: EmbeddingRequest, principal: Principal | None = None, *, request_id: str | None = None
    ) -> tuple[EmbeddingResponse, RequestContext]:
        ctx = self._context(as_json(request), principal, False, "embeddings", request_id)
        group = await self._before(ctx, as_json(request))
        router = self._router()
        last: GatewayError | None = None
        try:
            for deployment in router.order(group):
                provider = router.providers.get(deployment.provider)
                if not isinstance(provider, EmbeddingProvider):
                    last = BadRequest(f"model '{ctx.model}' does not support embeddings", param="model")
                    continue
                try:
                    response = await provider.embed(request, deployment)
                except GatewayError as exc:
                    last = exc
                    if exc.retryable:
                        continue
                    raise
                ctx.trace.deployment = deployment
                self._price(ctx, response.get("usage"))
                return response, ctx
            assert last is not None
            raise last
        except GatewayError as exc:
            ctx.error, ctx.status = exc, "error"
            raise
        finally:
            await self._after(ctx)

    # -- models ------------------------------------------------------------------------------

    def find_group(self, name: str) -> ModelGroup | None:
        """The group the router would use for ``name`` (configured, remembered, or a dynamic
        ``provider/model`` built afresh), without remembering anything."""
        groups = self.router.groups if self.router is not None else self.groups
        return groups.get(name) or self._dynamic_candidate(name)

    def _dynamic_candidate(self, name: str) -> ModelGroup | None:
        provider, sep, model = name.partition("/")
        if not sep or not model or not self._provider_available(provider):
            return None
        return ModelGroup(name, [_deployment(self.config, name, 0, provider, model, None, self._environ)])

    def _dynamic_group(self, name: str) -> ModelGroup | None:
        """``provider/any-model`` for a provider whose key is configured serves that model id."""
        group = self._dynamic_candidate(name)
        if group is None:
            return None
        self._dynamic_names += 1
        if self._dynamic_names <= MAX_DYNAMIC_GROUPS:  # clients choose these names: keep memory bounded
            self._router().groups[name] = group
        return group

    def _provider_available(self, provider: str) -> bool:
        if provider in self.config.providers:
            return True
        env = key_env(provider)
        return bool(env and self._environ.get(env)) and self.config.discover_providers

    def model_info(self, name: str) -> ModelInfo | None:
        group = self.groups.get(name)
        if group is None:
            return None
        first = group.deployments[0]
        return self.catalog.info(first.provider, first.model, name)

    def list_models(self) -> list[dict[str, Any]]:
        return [self.describe_model(name) for name in self.groups]

    def describe_model(self, name: str) -> dict[str, Any]:
        group = self.groups.get(name)
        if group is None:
            raise NotFound(f"The model '{name}' does not exist", code="model_not_found", param="model")
        info = self.model_info(name)
        assert info is not None
        first = group.deployments[0]
        price = info.price
        return {
            "id": name,
            "object": "model",
            "created": 0,
            "owned_by": first.provider,
            "providers": sorted({d.provider for d in group.deployments}),
            "context_window": info.context_window,
            "max_output_tokens": info.max_output_tokens,
            "modalities": {"input": ["text", "image"] if info.vision else ["text"], "output": ["text"]},
            "capabilities": info.capabilities(),
            "pricing": None
            if price is None
            else {
                "input_per_mtok": price.input,
                "output_per_mtok": price.output,
                "cached_input_per_mtok": price.cached_input,
                "currency": "USD",
            },
            "local": all(d.provider in LOCAL_PROVIDERS for d in group.deployments),
        }


# ---------------------------------------------------------------------------------------------
# Building model groups from config


def _deployment(
    config: GatewayConfig,
    public_name: str,
    index: int,
    provider: str,
    model: str,
    spec: Any,
    environ: dict[str, str] | None,
) -> Deployment:
    defaults = config.providers.get(provider)
    api_key = getattr(spec, "api_key", None) or (defaults.api_key if defaults else None)
    if api_key is None:
        env = key_env(provider)
        source = environ if environ is not None else os.environ
        api_key = source.get(env) if env else None
    timeouts_cfg = getattr(spec, "timeouts", None) or (defaults.timeouts if defaults else None)
    headers = {**(defaults.headers if defaults else {}), **(getattr(spec, "headers", None) or {})}
    options = {**(defaults.options if defaults else {}), **(getattr(spec, "options", None) or {})}
    return Deployment(
        id=getattr(spec, "id", None) or (f"{public_name}#{index}" if index else public_name),
        public_name=public_name,
        provider=provider,
        model=model,
        api_base=getattr(spec, "api_base", None) or (defaults.api_base if defaults else None),
        api_key=api_key,
        weight=getattr(spec, "weight", 1.0),
        headers=tuple(headers.items()),
        timeouts=Timeouts(**timeouts_cfg.model_dump()) if timeouts_cfg else Timeouts(),
        options=tuple(options.items()),
        rpm=getattr(spec, "rpm", None),
        tpm=getattr(spec, "tpm", None),
    )


def _apply_overrides(catalog: Catalog, model: ModelConfig) -> None:
    pricing = model.pricing
    if pricing is not None:  # the public model's own price, whatever upstream id serves it
        catalog.set_price_override(
            model.name,
            Price(
                pricing.input_per_mtok,
                pricing.output_per_mtok,
                pricing.cached_input_per_mtok,
                pricing.cache_write_per_mtok,
                pricing.cache_write_1h_per_mtok,
            ),
        )


def build_groups(config: GatewayConfig, catalog: Catalog, environ: dict[str, str]) -> dict[str, ModelGroup]:
    """Public model name → group: configured models, the local model, then discovered providers."""
    groups: dict[str, ModelGroup] = {}
    for model in config.models:
        deployments = [
            _deployment(config, model.name, i, spec.provider, spec.model, spec, environ)
            for i, spec in enumerate(model.deployments)
        ]
        _apply_overrides(catalog, model)
        groups[model.name] = ModelGroup(model.name, deployments, model.routing)

    local = config.local_model
    if local.enabled and local.name not in groups:
        groups[local.name] = ModelGroup(
            local.name,
            [
                Deployment(
                    id=local.name,
                    public_name=local.name,
                    provider="local",
                    model=local.model,
                    options=tuple(local.options.items()),
                    timeouts=Timeouts(first_token=120.0, total=600.0),
                )
            ],
        )

    if config.discover_providers:
        for provider in discoverable_providers():
            env = key_env(provider)
            if not env or not environ.get(env):
                continue
            for model_id in catalog.default_models(provider):
                name = f"{provider}/{model_id}"
                if name not in groups:
                    groups[name] = ModelGroup(name, [_deployment(config, name, 0, provider, model_id, None, environ)])
                # the bare upstream id is an alias for the first provider that offers it (not for
                # ids with a slash: "openai/gpt-oss-120b" on Groq must not look like an OpenAI model)
                if model_id not in groups and "/" not in model_id:
                    groups[model_id] = ModelGroup(
                        model_id, [_deployment(config, model_id, 0, provider, model_id, None, environ)]
                    )
    return groups
