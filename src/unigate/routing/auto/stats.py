"""Live per-deployment statistics for the latency and health constraints.

Health comes from the router's :class:`~unigate.routing.health.Health` when one is given;
otherwise from a small breaker kept here (``FAILURES_TO_TRIP`` consecutive upstream
failures → unhealthy for ``COOLDOWN_S``). Latency is an EWMA per deployment of total latency
and of time to first token (streams): the router's own (:class:`~unigate.routing.stats.Stats`)
when given and it has them, else one fed here by the auto hook. Either way a deployment whose last observation is
older than ``STALE_S`` counts as unknown, so one that was excluded for being slow (and so got
no traffic) is probed again.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from unigate.context import RequestContext
    from unigate.routing.health import Health
    from unigate.routing.stats import Stats

ALPHA = 0.3
STALE_S = 300.0
FAILURES_TO_TRIP = 3
COOLDOWN_S = 30.0
_UNHEALTHY = frozenset({"cooling_down", "cooldown", "failing", "unhealthy", "down", "open"})


def _state_healthy(state: Any) -> bool:
    if state is None:
        return True
    if isinstance(state, bool):
        return state
    healthy = getattr(state, "healthy", None)
    if isinstance(healthy, bool):
        return healthy
    value = getattr(state, "value", state)
    return not (isinstance(value, str) and value.lower().replace("-", "_").replace(" ", "_") in _UNHEALTHY)


class LiveStats:
    def __init__(
        self, health: Health | None = None, stats: Stats | None = None, *, clock: Any = time.monotonic
    ) -> None:
        self._health = health
        self._stats = stats
        self._clock = clock
        self._latency: dict[str, tuple[float, float]] = {}  # id → (ewma ms, updated at)
        self._ttft: dict[str, tuple[float, float]] = {}
        self._failures: dict[str, int] = {}
        self._down_until: dict[str, float] = {}

    # -- LiveView ----------------------------------------------------------------------------

    def healthy(self, deployment_id: str) -> bool:
        if self._health is not None:
            return _state_healthy(self._health.state(deployment_id))
        until = self._down_until.get(deployment_id)
        return until is None or self._clock() >= until

    def latency_ms(self, deployment_id: str) -> float | None:
        return self._live(deployment_id, "total_ms", self._latency)

    def ttft_ms(self, deployment_id: str) -> float | None:
        return self._live(deployment_id, "ttft_ms", self._ttft)

    def _live(self, deployment_id: str, field: str, own: dict[str, tuple[float, float]]) -> float | None:
        mine = self._fresh(own.get(deployment_id))
        stats = self._stats
        if stats is None or mine is None:
            return mine
        value = getattr(stats.of(deployment_id), field, None)
        return float(value) if isinstance(value, int | float) else mine

    def _fresh(self, entry: tuple[float, float] | None) -> float | None:
        if entry is None or self._clock() - entry[1] > STALE_S:
            return None
        return entry[0]

    # -- recording ---------------------------------------------------------------------------

    def observe(self, deployment_id: str, latency_ms: float | None = None, ttft_ms: float | None = None) -> None:
        now = self._clock()
        if latency_ms is not None:
            self._latency[deployment_id] = (self._ewma(self._latency.get(deployment_id), latency_ms, now), now)
        if ttft_ms is not None:
            self._ttft[deployment_id] = (self._ewma(self._ttft.get(deployment_id), ttft_ms, now), now)

    def _ewma(self, entry: tuple[float, float] | None, value: float, now: float) -> float:
        if entry is None or now - entry[1] > STALE_S:
            return value
        return ALPHA * value + (1 - ALPHA) * entry[0]

    def failure(self, deployment_id: str) -> None:
        count = self._failures.get(deployment_id, 0) + 1
        self._failures[deployment_id] = count
        if count >= FAILURES_TO_TRIP:
            self._down_until[deployment_id] = self._clock() + COOLDOWN_S
            self._failures[deployment_id] = 0

    def success(self, deployment_id: str) -> None:
        self._failures.pop(deployment_id, None)
        self._down_until.pop(deployment_id, None)

    def record(self, ctx: RequestContext) -> None:
        """Feed one finished request's attempts (called from the auto hook's ``after``)."""
        for attempt in ctx.trace.attempts:
            if attempt.error is None:
                continue
            status = attempt.status
            if status is not None and 400 <= status < 500 and status not in (408, 429):
                continue  # the request's fault, not the deployment's
            self.failure(attempt.deployment)
        deployment = ctx.trace.deployment
        if deployment is None or ctx.status != "ok":
            return
        self.success(deployment.id)
        if ctx.stream:
            self.observe(deployment.id, ctx.latency_ms, ctx.trace.ttft_ms)
        else:
            last = ctx.trace.attempts[-1] if ctx.trace.attempts else None
            self.observe(deployment.id, last.latency_ms if last is not None else ctx.latency_ms)
