"""Resolve a public model name to its deployments and try them until one answers.

The loop, per request: for the requested group, then each group of its fallback chain —
order the deployments (``strategies``), pass over those that cannot serve the request
(``preflight``) or are cooling down (``health``), try the rest with retries on retryable errors
(``retry``), and pick the next group by the class of the last error (``fallbacks``). If nothing
answered, deployments that were passed over are tried as a last resort (a cooldown is a
preference, not a wall). For streams an attempt has answered only when the first *content*
chunk arrived, so failures before it fall back invisibly; failures after it end the stream
with an error event, or continue the answer elsewhere (``continuation``) when asked to.

The loop is the same for every operation (chat, embeddings, token counts, …): :meth:`Router.route`
takes the provider call to make for one deployment; :meth:`Router.chat` and
:meth:`Router.chat_stream` are that loop with the chat calls. A call that raises
:class:`~unigate.errors.Unsupported` (the provider cannot do the operation) passes over the
deployment without marking it unhealthy.

A single-deployment group with no fallbacks and no request overrides takes a short path:
no pre-flight, no strategy, a dict lookup for health.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from unigate.config import ModelRoutingConfig
from unigate.context import may_use
from unigate.errors import (
    GatewayError,
    Unsupported,
    UpstreamRateLimited,
    UpstreamServerError,
    UpstreamTimeout,
    model_not_found,
)
from unigate.providers.base import Provider
from unigate.providers.registry import ProviderSet
from unigate.routing import continuation
from unigate.routing.fallbacks import NO_OPTIONS, RouteOptions, chain, parse_options
from unigate.routing.groups import ModelGroup
from unigate.routing.health import BreakerPolicy, Health
from unigate.routing.preflight import Needs, Preflight, needs
from unigate.routing.retry import DEFAULT_RETRY, Disposition, RetryPolicy, backoff, disposition
from unigate.routing.stats import Stats
from unigate.routing.strategies import StrategyContext, order
from unigate.routing.trace import Attempt, RouteTrace
from unigate.types import ChatChunk, ChatRequest, ChatResponse, Deployment

__all__ = ["Attempt", "Call", "ModelGroup", "RouteTrace", "Router"]

T = TypeVar("T")
R = TypeVar("R")
# One attempt of an operation on one deployment: the provider to use, the canonical request
# (a ChatRequest for chat; another operation's own request type otherwise).
Call = Callable[[Provider, Any, Deployment], Awaitable[T]]


@dataclass(slots=True)
class _Primed:
    """A stream that has produced its first content chunk."""

    deployment: Deployment
    head: list[ChatChunk]
    stream: AsyncIterator[ChatChunk]
    started: float


def _has_content(chunk: ChatChunk) -> bool:
    """A chunk the client would see as the answer starting (not just the role preamble)."""
    if chunk.get("usage"):
        return True
    for choice in chunk.get("choices") or ():
        if choice.get("finish_reason"):
            return True
        delta = choice.get("delta") or {}
        if delta.get("content") or delta.get("tool_calls") or delta.get("reasoning_content") or delta.get("refusal"):
            return True
    return False


def _policy(routing: ModelRoutingConfig) -> BreakerPolicy:
    return BreakerPolicy(
        allowed_fails=routing.allowed_fails, cooldown=routing.cooldown, max_cooldown=routing.max_cooldown
    )


class Router:
    def __init__(
        self,
        groups: Mapping[str, ModelGroup],
        providers: ProviderSet,
        *,
        catalog: Any = None,
        health: Health | None = None,
        stats: Stats | None = None,
        capabilities: dict[str, Any] | None = None,
        retry: RetryPolicy = DEFAULT_RETRY,
    ) -> None:
        self.groups = groups
        self.providers = providers
        self.catalog = catalog
        self.health = health or Health()
        self.stats = stats or Stats()
        self.preflight = Preflight(catalog, capabilities)
        self.retry = retry
        self._prices: dict[str, float | None] = {}
        self._strategy = StrategyContext(self.stats, self._price)
        self._stream_strategy = StrategyContext(self.stats, self._price, stream=True, counters=self._strategy.counters)
        for group in groups.values():
            if group.routing != ModelRoutingConfig():
                for deployment in group.deployments:
                    self.health.policies[deployment.id] = _policy(group.routing)

    def group(self, name: str) -> ModelGroup:
        group = self.groups.get(name)
        if group is None:
            raise model_not_found(name)
        return group

    def _price(self, deployment: Deployment) -> float | None:
        if deployment.id not in self._prices:
            price = (
                self.catalog.price(deployment.provider, deployment.model, deployment.public_name)
                if self.catalog is not None
                else None
            )
            self._prices[deployment.id] = None if price is None else price.input + price.output
        return self._prices[deployment.id]

    def order(self, group: ModelGroup, strategy: str | None = None, stream: bool = False) -> list[Deployment]:
        ctx = self._stream_strategy if stream else self._strategy
        return order(strategy or group.routing.strategy, group.name, group.deployments, ctx)

    # -- public calls -----------------------------------------------------------------------

    async def route(
        self,
        request: R,
        group: ModelGroup,
        trace: RouteTrace,
        call: Callable[[Provider, R, Deployment], Awaitable[T]],
        *,
        allowed: frozenset[str] | None = None,
    ) -> T:
        """Any non-streamed operation: ``call`` on deployments of ``group`` (then its fallbacks)
        until one answers; the answer's ``usage`` (if it is a dict with one) feeds the TPM stats."""
        body = cast(ChatRequest, request)  # routing reads only the fields every request may carry
        options = parse_options(body, self.groups, allowed)
        deployment, result = await self._route(body, group, trace, options, allowed, call, stream=False)
        usage = result.get("usage") if isinstance(result, dict) else None
        if usage:
            self.stats.of(deployment.id).add_tokens(int(usage.get("total_tokens") or 0))
        return result

    async def chat(
        self, request: ChatRequest, group: ModelGroup, trace: RouteTrace, *, allowed: frozenset[str] | None = None
    ) -> ChatResponse:
        return await self.route(request, group, trace, self._call, allowed=allowed)

    async def chat_stream(
        self, request: ChatRequest, group: ModelGroup, trace: RouteTrace, *, allowed: frozenset[str] | None = None
    ) -> AsyncIterator[ChatChunk]:
        """Return an iterator whose leading chunks (up to the first content chunk) are already in hand."""
        options = parse_options(request, self.groups, allowed)
        _, primed = await self._route(request, group, trace, options, allowed, self._prime, stream=True)
        cont = options.continue_on_failure
        if cont is None:
            cont = group.routing.continue_on_failure
        return self._serve(primed, request, group, trace, options, allowed, cont and continuation.allowed(request))

    # -- the loop ---------------------------------------------------------------------------

    async def _route(
        self,
        request: ChatRequest,
        group: ModelGroup,
        trace: RouteTrace,
        options: RouteOptions,
        allowed: frozenset[str] | None,
        call: Call[T],
        *,
        stream: bool,
        exclude: frozenset[str] = frozenset(),
    ) -> tuple[Deployment, T]:
        if trace.requested is None:
            trace.requested = group.name
        simple = (
            len(group.deployments) == 1
            and options is NO_OPTIONS
            and not (group.routing.fallbacks or group.routing.context_window_fallbacks)
            and not group.routing.content_filter_fallbacks
        )
        if simple and not exclude:
            only = group.deployments[0]
            if await self.health.admit(only.id) != "cooling":
                outcome = await self._attempt(call, request, group, only, trace, group.routing.retries, True)
                if isinstance(outcome, GatewayError):
                    raise outcome
                return only, outcome
        need: Needs | None = None if simple else needs(request)
        visited: set[str] = set()
        pending: list[ModelGroup] = [group]
        deferred: list[tuple[ModelGroup, Deployment]] = []
        tried: set[str] = set(exclude)
        last: GatewayError | None = None
        primary = True
        while pending:
            current = pending.pop(0)
            if current.name in visited:
                continue
            visited.add(current.name)
            why: Disposition | None = None
            strategy = options.strategy if primary else None
            retries = options.retries if primary and options.retries is not None else current.routing.retries
            candidates = self.order(current, strategy, stream)
            has_chain = bool(pending or current.routing.fallbacks or (primary and options.has_chain))
            for index, deployment in enumerate(candidates):
                if deployment.id in tried:
                    continue
                if need is not None:
                    reason = self.preflight.reason(deployment, need)
                    if reason is not None:
                        trace.skipped.append((deployment.id, reason))
                        deferred.append((current, deployment))
                        if reason == "context_window" and why is None:
                            why = Disposition.CONTEXT
                        continue
                if await self.health.admit(deployment.id) == "cooling":
                    trace.skipped.append((deployment.id, "cooldown"))
                    deferred.append((current, deployment))
                    continue
                tried.add(deployment.id)
                outcome = await self._attempt(
                    call, request, current, deployment, trace, retries, index == len(candidates) - 1 and not has_chain
                )
                if not isinstance(outcome, GatewayError):
                    return deployment, outcome
                last = outcome
                why = disposition(outcome)
                if why is Disposition.FATAL:
                    raise outcome
                if why in (Disposition.CONTEXT, Disposition.CONTENT):
                    break
            names = chain(current.routing, why, options, primary)
            primary = False
            for name in names:
                target = self.groups.get(name)
                if target is not None and may_use(allowed, name):
                    pending.append(target)
        for owner, deployment in deferred:
            if deployment.id in tried:
                continue
            tried.add(deployment.id)
            outcome = await self._attempt(call, request, owner, deployment, trace, owner.routing.retries, True)
            if not isinstance(outcome, GatewayError):
                return deployment, outcome
            last = outcome
            if disposition(outcome) is Disposition.FATAL:
                raise outcome
        if last is None:
            raise UpstreamTimeout(f"no deployment of '{group.name}' could be tried", code="no_deployment_available")
        raise last

    async def _attempt(
        self,
        call: Call[T],
        request: ChatRequest,
        group: ModelGroup,
        deployment: Deployment,
        trace: RouteTrace,
        retries: int,
        alone: bool,
    ) -> T | GatewayError:
        """One deployment, with retries; returns the result or the final error."""
        provider = self.providers.get(deployment.provider)
        stats = self.stats.of(deployment.id)
        attempt = 0
        while True:
            attempt += 1
            started = time.perf_counter()
            stats.started()
            try:
                result = await call(provider, request, deployment)
            except Unsupported as exc:
                stats.finished()
                trace.skipped.append((deployment.id, "unsupported"))
                return exc  # not the deployment's fault: no attempt, no cooldown
            except GatewayError as exc:
                stats.finished()
                trace.attempts.append(self._failed(deployment, exc, started))
                action = disposition(exc)
                if action in (Disposition.RETRY, Disposition.NEXT):
                    await self.health.failed(
                        deployment.id,
                        type(exc).__name__,
                        trip=isinstance(exc, UpstreamRateLimited),
                        retry_after=exc.retry_after,
                    )
                if action is not Disposition.RETRY or attempt > retries:
                    return exc
                if not alone and self.health.state(deployment.id) != "healthy":
                    return exc  # it just went into cooldown: go elsewhere rather than wait
                delay = backoff(attempt, exc.retry_after, self.retry)
                if delay is None:
                    return exc
                await asyncio.sleep(delay)
                continue
            except BaseException:
                stats.finished()
                raise
            elapsed = (time.perf_counter() - started) * 1e3
            trace.attempts.append(Attempt(deployment.id, latency_ms=elapsed, model=group.name))
            trace.deployment = deployment
            if isinstance(result, _Primed):
                trace.ttft_ms = elapsed
                stats.observe(elapsed, None)
            else:
                stats.finished()
                stats.observe(None, elapsed)
            await self.health.succeeded(deployment.id)
            return result

    @staticmethod
    async def _call(provider: Provider, request: ChatRequest, deployment: Deployment) -> ChatResponse:
        return await provider.chat(request, deployment)

    @staticmethod
    async def _prime(provider: Provider, request: ChatRequest, deployment: Deployment) -> _Primed:
        started = time.perf_counter()
        stream = provider.chat_stream(request, deployment)
        head: list[ChatChunk] = []
        try:
            async with asyncio.timeout(deployment.timeouts.first_token):
                async for chunk in stream:
                    head.append(chunk)
                    if _has_content(chunk):
                        break
        except TimeoutError as exc:
            await _close(stream)
            raise UpstreamTimeout(
                f"{deployment.provider}: no first token within {deployment.timeouts.first_token:g}s",
                provider=deployment.provider,
            ) from exc
        except BaseException:
            await _close(stream)
            raise
        if not head or not _has_content(head[-1]):
            await _close(stream)  # ended before any content (a non-SSE body, an empty stream)
            raise UpstreamServerError(
                f"{deployment.provider}: stream ended before any content", provider=deployment.provider, status=502
            )
        return _Primed(deployment, head, stream, started)

    @staticmethod
    def _failed(deployment: Deployment, error: GatewayError, started: float, phase: str = "start") -> Attempt:
        return Attempt(
            deployment.id,
            error=type(error).__name__,
            status=error.upstream_status or error.http_status,
            latency_ms=(time.perf_counter() - started) * 1e3,
            model=deployment.public_name,
            phase=phase,
        )

    # -- streams after the first chunk -------------------------------------------------------

    async def _serve(
        self,
        primed: _Primed,
        request: ChatRequest,
        group: ModelGroup,
        trace: RouteTrace,
        options: RouteOptions,
        allowed: frozenset[str] | None,
        continue_on_failure: bool,
    ) -> AsyncIterator[ChatChunk]:
        tracker = continuation.Tracker() if continue_on_failure else None
        segment = 0
        exclude: set[str] = set()
        while True:
            stats = self.stats.of(primed.deployment.id)
            count_tokens = primed.deployment.tpm is not None
            try:
                try:
                    if tracker is None:  # the common case: pass chunks through
                        for chunk in primed.head:
                            yield chunk
                        async for chunk in primed.stream:
                            if count_tokens and (usage := chunk.get("usage")):
                                stats.add_tokens(int(usage.get("total_tokens") or 0))
                            yield chunk
                    else:
                        async for chunk in _tracked(primed, tracker, segment > 0):
                            if count_tokens and (usage := chunk.get("usage")):
                                stats.add_tokens(int(usage.get("total_tokens") or 0))
                            yield chunk
                finally:
                    await _close(primed.stream)
            except GatewayError as exc:
                trace.attempts.append(self._failed(primed.deployment, exc, primed.started, "mid_stream"))
                if disposition(exc) in (Disposition.RETRY, Disposition.NEXT):
                    await self.health.failed(
                        primed.deployment.id, type(exc).__name__, trip=False, retry_after=exc.retry_after
                    )
                exclude.add(primed.deployment.id)
                if tracker is None or not tracker.continuable or segment >= continuation.MAX_CONTINUATIONS:
                    raise
                try:
                    _, primed = await self._route(
                        continuation.continuation_request(request, tracker.text),
                        group,
                        trace,
                        options,
                        allowed,
                        self._prime,
                        stream=True,
                        exclude=frozenset(exclude),
                    )
                except GatewayError:
                    raise exc from None
                segment += 1
                trace.continuations += 1
                trace.attempts[-1].phase = "continuation"
                continue
            finally:
                stats.finished()
            stats.observe(None, (time.perf_counter() - primed.started) * 1e3)
            return


async def _close(stream: AsyncIterator[ChatChunk]) -> None:
    close = getattr(stream, "aclose", None)
    if close is not None:
        with contextlib.suppress(Exception):
            await close()


async def _tracked(primed: _Primed, tracker: continuation.Tracker, rewrite: bool) -> AsyncIterator[ChatChunk]:
    """A segment of a continuable stream: each chunk seen by the tracker (and, for a
    continuation, rewritten into the original stream)."""

    async def chunks() -> AsyncIterator[ChatChunk]:
        for chunk in primed.head:
            yield chunk
        async for chunk in primed.stream:
            yield chunk

    async for chunk in chunks():
        if rewrite:
            rewritten = tracker.rewrite(chunk)
            if rewritten is None:
                continue
            chunk = rewritten
        tracker.see(chunk)
        yield chunk
