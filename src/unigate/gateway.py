"""Gateway: the orchestration of one request, with no HTTP details of its own.

``Gateway.chat`` / ``chat_stream`` / ``embed`` are what the server calls and what a Python
program can call in-process. Per request: resolve the model → pre-request hooks (limits,
budget reservation) → routing (try, retry, fall back) → cost from the catalog → post-request
hooks (settle, ledger, metrics, logs). Hooks are plug-ins; with none configured the path is
just resolve → route → respond.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from unigate.catalog import Catalog, ModelInfo, Price
from unigate.catalog.counting import OutputCounter, estimated_usage, response_output_bytes, tokens_for_bytes
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
OVERFLOW_ID = "*"  # the deployment id suffix shared by dynamic names past MAX_DYNAMIC_GROUPS
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


@dataclass(frozen=True, slots=True)
class Operation:
    """A non-chat request kind routed through the same pipeline as chat (see ``Gateway.operate``).

    ``call(provider, request, deployment)`` does the upstream call and returns the result;
    ``usage(result)`` reads the canonical usage (media units included) from it. ``method`` is
    the provider method the call needs: deployments whose provider lacks it are skipped.
    """

    endpoint: str  # the catalog's endpoint name (transcription, image_generation, rerank, …)
    method: str
    call: Callable[[Any, dict[str, Any], Deployment], Awaitable[Any]]
    usage: Callable[[Any], Usage | None]


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
        # what the config (and the environment's providers) serve; the groups dict also comes to
        # hold remembered client-chosen provider/<model> names, which are never listed
        self.configured_models = frozenset(self.groups)
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

    @property
    def environ(self) -> dict[str, str]:
        """The environment the gateway reads provider keys from."""
        return self._environ

    def http_session(self) -> Any:
        """The shared upstream HTTP session (an ``aiohttp.ClientSession``) once started."""
        if self.providers is None:
            raise RuntimeError("Gateway.start() has not been called")
        return self.providers.context.http

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
        await self.admit(ctx, request)
        return group

    async def admit(self, ctx: RequestContext, request: dict[str, Any]) -> None:
        """The hooks' ``before`` (limits, budget, …) for a request the caller routes itself
        (native pass-through); ``finish`` must follow it exactly once."""
        for index, hook in enumerate(self.hooks):
            try:
                await hook.before(ctx, request)
            except BaseException:
                # hooks that already admitted the request must release what they hold
                ctx.status = "error"
                for earlier in self.hooks[:index]:
                    await earlier.after(ctx)
                raise

    async def finish(self, ctx: RequestContext) -> None:
        """Price ``ctx.usage`` on ``ctx.trace.deployment`` and run the hooks' ``after``."""
        deployment = ctx.trace.deployment
        if ctx.usage is not None and deployment is not None and ctx.cost is None:
            ctx.cost = self.catalog.request_cost(deployment.provider, deployment.model, ctx.usage, None)
        await self._after(ctx)

    async def _after(self, ctx: RequestContext) -> None:
        ctx.latency_ms = (time.perf_counter() - ctx.started) * 1e3
        for hook in self.hooks:
            await hook.after(ctx)

    def _price_produced(self, ctx: RequestContext, request: Any, usage: Usage | None, output_bytes: int) -> None:
        """Price what the upstream produced: its own usage, or — when it reported none — the
        gateway's count of the prompt it sent and the output it received (catalog/counting)."""
        if usage is None and ctx.trace.deployment is not None:
            usage = estimated_usage(request, output_bytes)
            ctx.extras["usage_estimated"] = True
        elif usage is not None and ctx.trace.continuations and output_bytes:
            # a continued stream's usage covers its last segment only: the earlier segments'
            # output was produced (and delivered) too
            counted = tokens_for_bytes(output_bytes)
            if counted > int(usage.get("completion_tokens") or 0):
                usage = {**usage, "completion_tokens": counted}
                usage["total_tokens"] = int(usage.get("prompt_tokens") or 0) + counted
        self._price(ctx, usage)

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
        usage = response.get("usage")
        self._price_produced(ctx, request, usage, 0 if usage else response_output_bytes(response))
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
        return StreamResult(self._settle_stream(ctx, request, chunks, include_usage), ctx)

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
        self, ctx: RequestContext, request: ChatRequest, chunks: AsyncIterator[ChatChunk], include_usage: bool
    ) -> AsyncIterator[ChatChunk]:
        usage: Usage | None = None
        produced = OutputCounter()  # what was delivered, charged if the usage never comes
        try:
            async for chunk in chunks:
                produced.feed(chunk)
                chunk_usage = chunk.get("usage")
                if chunk_usage:
                    usage = chunk_usage
                    self._price(ctx, usage)  # before it is sent: the client sees usage.cost
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
            if usage is None or ctx.trace.continuations:
                self._price_produced(ctx, request, usage, produced.bytes)
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
                self._price_produced(ctx, request, response.get("usage"), 0)
                return response, ctx
            assert last is not None
            raise last
        except GatewayError as exc:
            ctx.error, ctx.status = exc, "error"
            raise
        finally:
            await self._after(ctx)

    # -- other endpoints ---------------------------------------------------------------------

    def serves(self, deployment: Deployment, endpoint: str) -> bool:
        """Whether a deployment can serve ``endpoint``: its provider implements it and the
        catalog (or config) does not say the model serves something else. A model the catalog
        does not know is assumed capable: the upstream has the last word."""
        known = self.catalog.endpoints(deployment.provider, deployment.model, deployment.public_name)
        return known is None or endpoint in known

    def check_endpoint(self, ctx: RequestContext, operation: Operation) -> None:
        from unigate.catalog.media import ENDPOINT_LABELS

        group = self._router().groups.get(ctx.model) or self._dynamic_group(ctx.model)
        if group is None:
            return  # _before says the model does not exist
        providers = self._router().providers
        for deployment in group.deployments:
            if self.serves(deployment, operation.endpoint) and _has_method(providers, deployment, operation.method):
                return
        raise BadRequest(
            f"The model '{ctx.model}' does not support {ENDPOINT_LABELS.get(operation.endpoint, operation.endpoint)}.",
            param="model",
            code="model_not_supported",
        )

    async def operate(
        self,
        operation: Operation,
        request: dict[str, Any],
        principal: Principal | None = None,
        *,
        request_id: str | None = None,
    ) -> tuple[Any, RequestContext]:
        """A non-chat request (audio, images, rerank, moderation) through the one pipeline:
        access check → hooks (limits, budget) → routing with retries and fallbacks → cost →
        hooks (settle, ledger, metrics, log)."""
        ctx = self._context(request, principal, False, operation.endpoint, request_id)
        self.check_endpoint(ctx, operation)
        group = await self._before(ctx, request)
        router = self._router()

        async def call(provider: Any, body: dict[str, Any], deployment: Deployment) -> Any:
            if not self.serves(deployment, operation.endpoint) or not hasattr(provider, operation.method):
                raise BadRequest(f"deployment '{deployment.id}' does not serve {operation.endpoint}", param="model")
            return await operation.call(provider, body, deployment)

        result = await self._routed(
            ctx, router.call(request, group, ctx.trace, call, allowed=ctx.principal.allowed_models)
        )
        self._price_media(ctx, operation.usage(result))
        await self._after(ctx)
        return result, ctx

    async def operate_stream(
        self,
        operation: Operation,
        request: dict[str, Any],
        principal: Principal | None = None,
        *,
        request_id: str | None = None,
    ) -> tuple[Any, AsyncIterator[bytes], RequestContext]:
        """Like ``operate`` for an upstream that streams bytes (speech audio, transcription
        events): ``operation.call`` returns ``(head, chunks)`` once the upstream answered, so
        failures before that fall back; ``operation.usage`` is then called with the head and
        must return usage known up front or None; the stream's ``usage`` hook below may refine it."""
        ctx = self._context(request, principal, True, operation.endpoint, request_id)
        self.check_endpoint(ctx, operation)
        group = await self._before(ctx, request)
        router = self._router()

        async def call(provider: Any, body: dict[str, Any], deployment: Deployment) -> Any:
            if not self.serves(deployment, operation.endpoint) or not hasattr(provider, operation.method):
                raise BadRequest(f"deployment '{deployment.id}' does not serve {operation.endpoint}", param="model")
            return await operation.call(provider, body, deployment)

        head, chunks = await self._routed(
            ctx, router.call(request, group, ctx.trace, call, allowed=ctx.principal.allowed_models)
        )
        self._price_media(ctx, operation.usage(head))
        return head, self._settle_bytes(ctx, chunks, head), ctx

    async def _settle_bytes(self, ctx: RequestContext, chunks: AsyncIterator[bytes], head: Any) -> AsyncIterator[bytes]:
        try:
            async for data in chunks:
                yield data
            final = getattr(head, "final_usage", None)
            if final is not None:
                self._price_media(ctx, final)
        except GatewayError as exc:
            ctx.error, ctx.status = exc, "error"
            raise
        except BaseException:
            ctx.status = "cancelled"
            raise
        finally:
            await self._after(ctx)

    def _price_media(self, ctx: RequestContext, usage: Usage | None) -> None:
        deployment = ctx.trace.deployment
        ctx.usage = usage
        if usage is not None and deployment is not None:
            ctx.cost = self.catalog.request_cost(deployment.provider, deployment.model, usage, deployment.public_name)

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
        deployment = _deployment(self.config, name, 0, provider, model, None, self._environ)
        if self._dynamic_names >= MAX_DYNAMIC_GROUPS:
            # past the names remembered, one shared identity per provider for everything kept per
            # deployment (routing and latency statistics, cooldowns, capability and price caches,
            # metrics): client-chosen names cannot grow that state; the request still goes to
            # the model it names
            deployment = dataclasses.replace(deployment, id=f"{provider}/{OVERFLOW_ID}")
        return ModelGroup(name, [deployment])

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
        return [self.describe_model(name) for name in self.groups if name in self.configured_models]

    def describe_model(self, name: str) -> dict[str, Any]:
        group = self.groups.get(name)
        if group is None:
            raise NotFound(f"The model '{name}' does not exist", code="model_not_found", param="model")
        info = self.model_info(name)
        assert info is not None
        first = group.deployments[0]
        price = info.price
        from unigate.catalog.media import ENDPOINTS, modalities

        # a model the catalog does not know: chat (its provider's kind), as configured or not
        endpoints = self.catalog.endpoints(first.provider, first.model, name) or frozenset(
            ["embeddings"] if info.embedding else ["chat"]
        )
        media = self.catalog.media(first.provider, first.model)
        audio_in = media is not None and media.audio_in
        audio_out = media is not None and media.audio_out
        return {
            "id": name,
            "object": "model",
            "created": 0,
            "owned_by": first.provider,
            "providers": sorted({d.provider for d in group.deployments}),
            "context_window": info.context_window,
            "max_output_tokens": info.max_output_tokens,
            "modalities": modalities(endpoints, info.vision, audio_in, audio_out),
            "endpoints": sorted(endpoints, key=ENDPOINTS.index),
            "capabilities": info.capabilities(),
            "pricing": None
            if price is None
            else {
                "input_per_mtok": price.input,
                "output_per_mtok": price.output,
                "cached_input_per_mtok": price.cached_input,
                "currency": "USD",
            },
            "media_pricing": _media_pricing(self.catalog.media_price(first.provider, first.model, name))
            if endpoints - {"chat", "embeddings"}
            else None,
            "local": all(d.provider in LOCAL_PROVIDERS for d in group.deployments),
        }


def _media_pricing(price: Any) -> dict[str, Any] | None:
    """A media model's prices in /v1/models (USD): only the units it is billed in."""
    if price is None or price.empty:
        return None
    out: dict[str, Any] = {
        name: getattr(price, name)
        for name in ("per_minute", "per_mchar", "per_search")
        if getattr(price, name) is not None
    }
    if price.per_image:
        out["per_image"] = dict(price.per_image)
    return {**out, "currency": "USD"} if out else None


def _has_method(providers: ProviderSet, deployment: Deployment, method: str) -> bool:
    try:
        return hasattr(providers.get(deployment.provider), method)
    except GatewayError:
        return False


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
    if model.media_pricing is not None:
        from unigate.catalog.media import price_from_mapping

        catalog.set_media_price_override(model.name, price_from_mapping(model.media_pricing.model_dump()))
    if model.capabilities is not None and model.capabilities.endpoints is not None:
        catalog.set_endpoints_override(model.name, frozenset(model.capabilities.endpoints))
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
