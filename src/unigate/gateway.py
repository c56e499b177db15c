"""Gateway: the one pipeline every request goes through, with no HTTP details of its own.

Per request: auto routing (``model: "auto…"`` → a public model) → resolve the model group →
access check → hooks' ``before`` (limits, budget reservation) → routing (try, retry, fall back,
health, trace) → the provider → cost from the catalog → hooks' ``after`` (settle, ledger,
metrics, logs; in reverse order). ``chat`` / ``chat_stream`` are that pipeline for chat;
``run(operation, …)`` / ``run_stream`` are the same for any other operation (embeddings,
token counts, audio, images, rerank, moderation, …: see :mod:`unigate.operations`).

Everything the pipeline uses is given to the constructor (the server builds it in
:mod:`unigate.composition`); with nothing but a config it is a bare gateway usable in-process.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from typing import Any, TypeVar, cast

from unigate.catalog import Catalog, ModelInfo
from unigate.catalog.counting import OutputCounter, estimated_usage, response_output_bytes, tokens_for_bytes
from unigate.config import GatewayConfig
from unigate.context import (
    AutoSelector,
    ChatResult,
    Hooks,
    Principal,
    RequestContext,
    RequestHook,
    StreamResult,
    may_use,
)
from unigate.errors import BadRequest, GatewayError, Unsupported, closest_name, model_not_found
from unigate.operations import Operation
from unigate.operations.embeddings import EMBEDDINGS
from unigate.providers.base import Provider, ProviderContext
from unigate.providers.registry import ProviderSet
from unigate.providers.shell import new_session
from unigate.routing.groups import ModelGroup, ModelGroups
from unigate.routing.health import Health
from unigate.routing.router import Router
from unigate.routing.stats import Stats
from unigate.types import (
    ChatChunk,
    ChatRequest,
    Deployment,
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
        hooks: Hooks | Iterable[RequestHook] = (),
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
        self.hooks = hooks if isinstance(hooks, Hooks) else Hooks(hooks)
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
        await self.providers.context.upstream.close()
        await self.providers.context.http.close()
        self.providers = None
        self.router = None

    async def __aenter__(self) -> Gateway:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    @property
    def environ(self) -> Mapping[str, str]:
        """The environment the gateway reads provider keys from."""
        return self.groups.environ

    def http_session(self) -> Any:
        """The aiohttp session of the passthrough routes once started (providers use
        ``providers.context.upstream``)."""
        if self.providers is None:
            raise RuntimeError("Gateway.start() has not been called")
        return self.providers.context.http

    # -- the pipeline ------------------------------------------------------------------------

    def _router(self) -> Router:
        if self.router is None:
            raise RuntimeError("Gateway.start() has not been called")
        return self.router

    async def _admit(
        self,
        request: dict[str, Any],
        principal: Principal | None,
        stream: bool,
        endpoint: str,
        request_id: str | None,
        operation: Operation[Any, Any] | None = None,
        surface: str | None = None,
    ) -> tuple[RequestContext, ModelGroup]:
        """Everything before routing: context, auto routing, model group, access, whether the
        model can do the operation at all, hooks' before."""
        model = request.get("model")
        if not isinstance(model, str) or not model:
            # every surface's own validation should have said so; this is the one place all pass
            raise BadRequest("'model' must be a non-empty string.", param="model", code="invalid_value")
        if len(model) > MAX_MODEL_NAME:
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
            surface=surface,
        )
        if self.auto is not None and self.auto.handles(ctx.model):
            await self.auto.select(ctx, request)  # rewrites request["model"] to the chosen model
            ctx.model = request["model"]
        group = self.groups.resolve(ctx.model)
        if group is None:
            raise model_not_found(ctx.model, suggestion=self.suggest(ctx.model, ctx.principal))
        if not may_use(ctx.principal.allowed_models, ctx.model):
            raise model_not_found(ctx.model, reason="allowed", suggestion=self.suggest(ctx.model, ctx.principal))
        if operation is not None and operation.method is not None:
            self._check_serves(ctx.model, group, operation)
        await self.admit(ctx, request)
        return ctx, group

    async def admit(self, ctx: RequestContext, request: dict[str, Any]) -> None:
        """The hooks' ``before`` (limits, budget, …); for a request the caller routes itself
        (native pass-through) ``finish`` must follow it exactly once."""
        hooks = self.hooks.order
        for index, hook in enumerate(hooks):
            try:
                await hook.before(ctx, request)
            except BaseException:
                # the hooks that already admitted the request release what they hold
                ctx.status = "error"
                for earlier in hooks[index - 1 :: -1] if index else ():
                    await earlier.after(ctx)
                raise

    async def finish(self, ctx: RequestContext) -> None:
        """For a request the caller routed itself: price ``ctx.usage`` on ``ctx.trace.deployment``
        and run the hooks' ``after``."""
        deployment = ctx.trace.deployment
        if ctx.usage is not None and deployment is not None and ctx.cost is None:
            ctx.cost = self.catalog.request_cost(deployment.provider, deployment.model, ctx.usage, None)
        await self._finish(ctx)

    async def _finish(self, ctx: RequestContext) -> None:
        ctx.latency_ms = (time.perf_counter() - ctx.started) * 1e3
        for hook in self.hooks.reverse:
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

    def _price_media(self, ctx: RequestContext, usage: Usage | None) -> None:
        """Media operations (audio, images, rerank, …) are priced per request, second or image."""
        deployment = ctx.trace.deployment
        ctx.usage = usage
        if usage is not None and deployment is not None:
            ctx.cost = self.catalog.request_cost(deployment.provider, deployment.model, usage, deployment.public_name)

    def _settle_operation(self, ctx: RequestContext, operation: Operation[Any, Any], request: Any, result: Any) -> None:
        usage = operation.usage(result)
        if operation.pricing == "tokens":
            self._price_produced(ctx, request, usage, 0)
        elif operation.pricing == "media":
            self._price_media(ctx, usage)

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
        ctx, group = await self._admit(body, principal, False, operation.endpoint, request_id, operation)
        router = self._router()
        result = await self._routed(
            ctx,
            router.route(request, group, ctx.trace, self._attempt_of(operation), allowed=ctx.principal.allowed_models),
        )
        self._settle_operation(ctx, operation, request, result)
        await self._finish(ctx)
        return result, ctx

    async def run_stream(
        self,
        operation: Operation[_R, tuple[Any, AsyncIterator[bytes]]],
        request: _R,
        principal: Principal | None = None,
        *,
        request_id: str | None = None,
    ) -> tuple[Any, AsyncIterator[bytes], RequestContext]:
        """An operation whose upstream streams bytes (speech audio, transcription events):
        ``operation.call`` returns ``(head, chunks)`` once the upstream answered, so failures
        before that fall back; ``operation.usage(head)`` is the usage known up front (or None),
        refined by ``head.final_usage`` when the stream has ended."""
        body = cast(dict[str, Any], request)
        ctx, group = await self._admit(body, principal, True, operation.endpoint, request_id, operation)
        router = self._router()
        head, chunks = await self._routed(
            ctx,
            router.route(request, group, ctx.trace, self._attempt_of(operation), allowed=ctx.principal.allowed_models),
        )
        self._price_media(ctx, operation.usage((head, chunks)))
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
            await self._finish(ctx)

    # -- which deployments can do an operation -----------------------------------------------

    def serves(self, deployment: Deployment, endpoint: str) -> bool:
        """Whether a deployment's model serves ``endpoint`` as far as the catalog (or config)
        knows. A model the catalog does not know is assumed capable: the upstream has the last word."""
        known = self.catalog.endpoints(deployment.provider, deployment.model, deployment.public_name)
        return known is None or endpoint in known

    def _attempt_of(self, operation: Operation[_R, _T]) -> Callable[[Provider, _R, Deployment], Awaitable[_T]]:
        """``operation.call``, passing over (``Unsupported``) deployments that cannot do it."""
        method = operation.method
        if method is None:
            return operation.call

        async def attempt(provider: Provider, request: _R, deployment: Deployment) -> _T:
            if not self.serves(deployment, operation.endpoint) or not hasattr(provider, method):
                raise Unsupported(f"deployment '{deployment.id}' does not serve {operation.endpoint}", param="model")
            return await operation.call(provider, request, deployment)

        return attempt

    def _check_serves(self, model: str, group: ModelGroup, operation: Operation[Any, Any]) -> None:
        """Refuse (before any hook holds anything) a model none of whose deployments can do it."""
        from unigate.catalog.media import ENDPOINT_LABELS

        providers = self._router().providers
        for deployment in group.deployments:
            if self.serves(deployment, operation.endpoint) and _has_method(providers, deployment, operation.method):
                return
        raise BadRequest(
            f"The model '{model}' does not support {ENDPOINT_LABELS.get(operation.endpoint, operation.endpoint)}.",
            param="model",
            code="model_not_supported",
        )

    async def chat(
        self,
        request: ChatRequest,
        principal: Principal | None = None,
        *,
        request_id: str | None = None,
        surface: str | None = None,
    ) -> ChatResult:
        ctx, group = await self._admit(as_json(request), principal, False, "chat", request_id, surface=surface)
        router = self._router()
        response = await self._routed(ctx, router.chat(request, group, ctx.trace, allowed=ctx.principal.allowed_models))
        usage = response.get("usage")
        self._price_produced(ctx, request, usage, 0 if usage else response_output_bytes(response))
        await self._finish(ctx)
        return ChatResult(response, ctx)

    async def chat_stream(
        self,
        request: ChatRequest,
        principal: Principal | None = None,
        *,
        request_id: str | None = None,
        surface: str | None = None,
    ) -> StreamResult:
        """Route a streaming request. Returns once the first content chunk is in hand, so a
        failure before it can still fall back and the caller may still answer with an error."""
        ctx, group = await self._admit(as_json(request), principal, True, "chat", request_id, surface=surface)
        router = self._router()
        chunks = await self._routed(
            ctx, router.chat_stream(request, group, ctx.trace, allowed=ctx.principal.allowed_models)
        )
        include_usage = bool((request.get("stream_options") or {}).get("include_usage"))
        return StreamResult(self._settle_stream(ctx, request, chunks, include_usage), ctx)

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

    def model_names(self, principal: Principal | None = None) -> list[str]:
        """What a caller may ask for by name: listed models, then the auto-routing names."""
        names = [*self.groups.listed(), *(self.auto.names() if self.auto is not None else ())]
        if principal is None:
            return names
        return [name for name in names if principal.may_use(name)]

    def list_models(self, principal: Principal | None = None) -> list[dict[str, Any]]:
        """The ``/v1/models`` objects a caller may use (auto-routing names included)."""
        return [self.describe_model(name) for name in self.model_names(principal)]

    def describe_model(self, name: str, principal: Principal | None = None) -> dict[str, Any]:
        if principal is not None and not principal.may_use(name):
            raise model_not_found(name, reason="hidden")  # one answer for every name outside the key's list
        if self.auto is not None and name in self.auto.names():
            return self.auto.describe_model(name)
        if name not in self.groups.listed():
            raise model_not_found(name, reason="listed", suggestion=self.suggest(name, principal))
        return self.groups.describe(name)

    def suggest(self, name: str, principal: Principal | None) -> str | None:
        """A "did you mean" for a name that is not served, among the names this caller may use."""
        return closest_name(name, (n for n in self.model_names(principal) if n != name))


def _has_method(providers: ProviderSet, deployment: Deployment, method: str | None) -> bool:
    if method is None:
        return True
    try:
        return hasattr(providers.get(deployment.provider), method)
    except GatewayError:
        return False
