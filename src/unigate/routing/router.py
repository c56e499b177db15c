"""Resolve a public model name to its deployments and try them until one answers.

The loop: order the group's deployments (strategy), try each (with retries on retryable
errors), then the group's fallback chain (by error class). For streams, an attempt counts as
answered only when the first *content* chunk has arrived, so failures before it fall back
invisibly to the client.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from unigate.config import ModelRoutingConfig
from unigate.errors import (
    ContentFiltered,
    ContextWindowExceeded,
    GatewayError,
    NotFound,
    UpstreamTimeout,
)
from unigate.providers.base import Provider
from unigate.providers.registry import ProviderSet
from unigate.types import ChatChunk, ChatRequest, ChatResponse, Deployment


@dataclass
class ModelGroup:
    name: str
    deployments: list[Deployment]
    routing: ModelRoutingConfig = field(default_factory=ModelRoutingConfig)


@dataclass(slots=True)
class Attempt:
    deployment: str
    error: str | None = None
    status: int | None = None
    latency_ms: float = 0.0


@dataclass(slots=True)
class RouteTrace:
    """What routing did for one request: the deployment that answered and every attempt."""

    deployment: Deployment | None = None
    attempts: list[Attempt] = field(default_factory=list)
    ttft_ms: float | None = None

    def header(self) -> str:
        """``x-unigate-attempts``: ``count`` then ``deployment=ErrorClass`` for abandoned attempts."""
        failed = [f"{a.deployment}={a.error}" for a in self.attempts if a.error]
        return ";".join([str(len(self.attempts)), *failed])


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


class Router:
    def __init__(self, groups: dict[str, ModelGroup], providers: ProviderSet) -> None:
        self.groups = groups
        self.providers = providers

    def group(self, name: str) -> ModelGroup:
        group = self.groups.get(name)
        if group is None:
            raise NotFound(
                f"The model '{name}' does not exist or is not served by this gateway.",
                code="model_not_found",
                param="model",
            )
        return group

    # -- ordering ---------------------------------------------------------------------------

    def order(self, group: ModelGroup) -> list[Deployment]:
        deployments = group.deployments
        if len(deployments) == 1 or group.routing.strategy == "ordered":
            return list(deployments)
        # weighted random without replacement: the first pick carries the load, the rest are failover
        pool = [d for d in deployments if d.weight > 0] or list(deployments)
        ordered: list[Deployment] = []
        while pool:
            total = sum(d.weight for d in pool) or float(len(pool))
            pick = random.random() * total
            chosen = len(pool) - 1
            for index, candidate in enumerate(pool):
                pick -= candidate.weight or 1.0
                if pick <= 0:
                    chosen = index
                    break
            ordered.append(pool.pop(chosen))
        return ordered

    def _chain(self, group: ModelGroup, error: GatewayError | None) -> list[str]:
        if isinstance(error, ContextWindowExceeded):
            return group.routing.context_window_fallbacks or group.routing.fallbacks
        if isinstance(error, ContentFiltered):
            return group.routing.content_filter_fallbacks or group.routing.fallbacks
        return group.routing.fallbacks

    def _should_fall_back(self, error: GatewayError) -> bool:
        return error.retryable or isinstance(error, ContextWindowExceeded | ContentFiltered)

    # -- calls ------------------------------------------------------------------------------

    async def chat(self, request: ChatRequest, group: ModelGroup, trace: RouteTrace) -> ChatResponse:
        visited: set[str] = set()
        pending = [group]
        last: GatewayError | None = None
        while pending:
            current = pending.pop(0)
            if current.name in visited:
                continue
            visited.add(current.name)
            for deployment in self.order(current):
                provider = self.providers.get(deployment.provider)
                for _ in range(current.routing.retries + 1):
                    started = time.perf_counter()
                    try:
                        response = await provider.chat(request, deployment)
                    except GatewayError as exc:
                        trace.attempts.append(self._failed(deployment, exc, started))
                        last = exc
                        if not exc.retryable:
                            break
                        continue
                    trace.attempts.append(Attempt(deployment.id, latency_ms=(time.perf_counter() - started) * 1e3))
                    trace.deployment = deployment
                    return response
                if last is not None and not self._should_fall_back(last):
                    raise last
            pending.extend(self.groups[name] for name in self._chain(current, last) if name in self.groups)
        assert last is not None
        raise last

    async def chat_stream(self, request: ChatRequest, group: ModelGroup, trace: RouteTrace) -> AsyncIterator[ChatChunk]:
        """Return an iterator whose leading chunks (up to the first content chunk) are already in hand."""
        visited: set[str] = set()
        pending = [group]
        last: GatewayError | None = None
        while pending:
            current = pending.pop(0)
            if current.name in visited:
                continue
            visited.add(current.name)
            for deployment in self.order(current):
                provider = self.providers.get(deployment.provider)
                for _ in range(current.routing.retries + 1):
                    started = time.perf_counter()
                    try:
                        stream, head = await self._prime(provider, request, deployment)
                    except GatewayError as exc:
                        trace.attempts.append(self._failed(deployment, exc, started))
                        last = exc
                        if not exc.retryable:
                            break
                        continue
                    elapsed = (time.perf_counter() - started) * 1e3
                    trace.attempts.append(Attempt(deployment.id, latency_ms=elapsed))
                    trace.deployment = deployment
                    trace.ttft_ms = elapsed
                    return _replay(head, stream)
                if last is not None and not self._should_fall_back(last):
                    raise last
            pending.extend(self.groups[name] for name in self._chain(current, last) if name in self.groups)
        assert last is not None
        raise last

    @staticmethod
    async def _prime(
        provider: Provider, request: ChatRequest, deployment: Deployment
    ) -> tuple[AsyncIterator[ChatChunk], list[ChatChunk]]:
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
        return stream, head

    @staticmethod
    def _failed(deployment: Deployment, error: GatewayError, started: float) -> Attempt:
        return Attempt(
            deployment.id,
            error=type(error).__name__,
            status=error.upstream_status or error.http_status,
            latency_ms=(time.perf_counter() - started) * 1e3,
        )


async def _close(stream: AsyncIterator[ChatChunk]) -> None:
    close = getattr(stream, "aclose", None)
    if close is not None:
        with contextlib.suppress(Exception):
            await close()


async def _replay(head: list[ChatChunk], stream: AsyncIterator[ChatChunk]) -> AsyncIterator[ChatChunk]:
    try:
        for chunk in head:
            yield chunk
        async for chunk in stream:
            yield chunk
    finally:
        await _close(stream)
