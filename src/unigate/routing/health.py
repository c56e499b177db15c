"""Cooldowns / circuit breaking per deployment, behind a small store interface.

A deployment's circuit is *closed* (in rotation) until it fails ``allowed_fails`` times in a
row, or answers 429 once; then it *opens* for a cooldown (the upstream's ``Retry-After`` when
it gave one, else ``cooldown * 2**(trips-1)``, capped at ``max_cooldown``). When the cooldown
ends the circuit is *half-open*: one request at a time may probe it; a success closes it, a
failure opens it again for longer. Reported states (``/health/ready``):

- ``healthy``       closed (it may have a short failure streak below the threshold)
- ``cooling_down``  open or half-open, tripped fewer than ``failing_after`` times in a row
- ``failing``       open or half-open after ``failing_after`` trips with no success between

The circuits live in ``state/circuits.py``: :class:`MemoryHealthStore` (one process, the
default) or :class:`RedisHealthStore` (replicas share cooldowns).
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import Any

from unigate.state.circuits import (
    Admission,
    BreakerPolicy,
    Circuit,
    HealthStore,
    MemoryHealthStore,
    RedisHealthStore,
    State,
    admission,
    on_failure,
)

__all__ = [
    "Admission",
    "BreakerPolicy",
    "Circuit",
    "Health",
    "HealthStore",
    "MemoryHealthStore",
    "RedisHealthStore",
    "State",
    "admission",
    "on_failure",
]

log = logging.getLogger("unigate.routing")


def _stamp(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="milliseconds")


class Health:
    """``gateway.health``: the router asks it which deployments to use and tells it how they did."""

    def __init__(self, store: HealthStore | None = None, policies: dict[str, BreakerPolicy] | None = None) -> None:
        self.store: HealthStore = store or MemoryHealthStore()
        self.policies = policies or {}
        self.default_policy = BreakerPolicy()
        self.clock = time.time

    def policy(self, deployment_id: str) -> BreakerPolicy:
        return self.policies.get(deployment_id, self.default_policy)

    def state(self, deployment_id: str) -> State:
        circuit = self.store.cached(deployment_id)
        if circuit is None:
            return "healthy"
        return circuit.state(self.clock(), self.policy(deployment_id))

    def describe(self, deployment_id: str) -> dict[str, Any]:
        """Details for ``/health/ready``: since when, until when, and why."""
        circuit = self.store.cached(deployment_id)
        if circuit is None or (circuit.trips == 0 and circuit.failures == 0):
            return {}
        out: dict[str, Any] = {"consecutive_failures": circuit.failures, "trips": circuit.trips}
        out["last_error"] = circuit.last_error or None
        out["since"] = _stamp(circuit.changed_at)
        if circuit.trips:
            out["cooldown_until"] = _stamp(circuit.open_until)
        return out

    async def admit(self, deployment_id: str) -> Admission:
        """``ok`` (in rotation), ``probe`` (half-open and this request holds the probe) or ``cooling``."""
        try:
            circuit = await self.store.get(deployment_id)
        except Exception as exc:  # a shared store that went away: this process's last view
            log.debug("cooldown store unavailable: %s", exc)
            circuit = self.store.cached(deployment_id)
        if circuit is None or circuit.trips == 0:
            return "ok"
        now = self.clock()
        verdict = admission(circuit, now)
        if verdict == "probe":
            try:
                claimed = await self.store.claim_probe(deployment_id, now, self.policy(deployment_id))
            except Exception:
                claimed = True
            if not claimed:
                return "cooling"
        return verdict

    async def failed(self, deployment_id: str, error: str, *, trip: bool, retry_after: float | None) -> None:
        now = self.clock()
        before = self.store.cached(deployment_id)
        try:
            circuit = await self.store.failure(
                deployment_id, now, self.policy(deployment_id), trip=trip, retry_after=retry_after, error=error
            )
        except Exception as exc:  # a cooldown is a preference: routing goes on without it
            log.debug("cooldown store unavailable: %s", exc)
            return
        if circuit.open_until > now and (before is None or before.open_until != circuit.open_until):
            log.warning(
                "%s routing: deployment %s cooling down until %s (%s, trip %d)",
                _stamp(now),
                deployment_id,
                _stamp(circuit.open_until),
                error,
                circuit.trips,
            )

    async def succeeded(self, deployment_id: str) -> None:
        """Close the circuit. Cheap when nothing is recorded (the hot path). A success while the
        circuit is open came from a request admitted before it opened: it does not close it
        early (the half-open probe does)."""
        circuit = self.store.cached(deployment_id)
        if circuit is None or circuit.open_until > self.clock():
            return
        try:
            await self.store.success(deployment_id)
        except Exception as exc:
            log.debug("cooldown store unavailable: %s", exc)
            return
        if circuit.trips:
            log.warning("%s routing: deployment %s healthy again", _stamp(self.clock()), deployment_id)

    async def aclose(self) -> None:
        await self.store.aclose()
