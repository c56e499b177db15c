"""Circuit-breaker state per deployment, shared like every other counter in ``state/``.

:class:`Circuit` is one deployment's breaker (consecutive failures, trips, open-until, probe
slot). :func:`on_failure` / :func:`admission` are the pure transition rules; a
:class:`HealthStore` keeps circuits and applies a failure or claims a probe atomically:
:class:`MemoryHealthStore` in one process, :class:`RedisHealthStore` (Lua scripts, Redis's
view of the same rules) when replicas must agree on cooldowns. ``routing.health.Health`` is the
policy on top.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Any, Literal, Protocol

State = Literal["healthy", "cooling_down", "failing"]
Admission = Literal["ok", "probe", "cooling"]


@dataclass(frozen=True, slots=True)
class BreakerPolicy:
    allowed_fails: int = 3
    cooldown: float = 5.0
    max_cooldown: float = 60.0
    probe_timeout: float = 30.0  # a probe that never reports back frees the slot after this
    failing_after: int = 3


@dataclass(frozen=True, slots=True)
class Circuit:
    failures: int = 0  # consecutive failures while closed
    trips: int = 0  # consecutive openings without a success between them
    open_until: float = 0.0  # wall-clock seconds
    probe_until: float = 0.0
    last_error: str = ""
    changed_at: float = 0.0

    def state(self, now: float, policy: BreakerPolicy) -> State:
        if self.trips == 0:
            return "healthy"
        return "failing" if self.trips >= policy.failing_after else "cooling_down"


def on_failure(
    circuit: Circuit | None,
    now: float,
    policy: BreakerPolicy,
    *,
    trip: bool,
    retry_after: float | None,
    error: str,
) -> Circuit:
    """The circuit after one failure. ``trip`` opens it at once (429). Mirrored in ``_FAILURE_LUA``."""
    c = circuit or Circuit()
    if c.open_until > now:  # already open: late failures of requests started before it opened
        return replace(c, last_error=error)
    failures = c.failures + 1
    half_open = c.trips > 0
    if trip or half_open or failures >= policy.allowed_fails:
        trips = c.trips + 1
        if retry_after is not None and retry_after > 0:
            cooldown = min(retry_after, policy.max_cooldown)
        else:
            cooldown = min(policy.cooldown * 2 ** (trips - 1), policy.max_cooldown)
        return Circuit(0, trips, now + cooldown, 0.0, error, now)
    return replace(c, failures=failures, last_error=error, changed_at=now)


def admission(circuit: Circuit | None, now: float) -> Admission:
    if circuit is None or circuit.trips == 0:
        return "ok"
    if circuit.open_until > now or circuit.probe_until > now:
        return "cooling"
    return "probe"


class HealthStore(Protocol):
    """Where circuits live. ``cached`` is a synchronous, possibly slightly stale read."""

    async def get(self, deployment_id: str) -> Circuit | None: ...

    async def failure(
        self,
        deployment_id: str,
        now: float,
        policy: BreakerPolicy,
        *,
        trip: bool,
        retry_after: float | None,
        error: str,
    ) -> Circuit: ...

    async def success(self, deployment_id: str) -> bool: ...

    async def claim_probe(self, deployment_id: str, now: float, policy: BreakerPolicy) -> bool: ...

    def cached(self, deployment_id: str) -> Circuit | None: ...

    async def aclose(self) -> None: ...


class MemoryHealthStore:
    def __init__(self) -> None:
        self._circuits: dict[str, Circuit] = {}

    async def get(self, deployment_id: str) -> Circuit | None:
        return self._circuits.get(deployment_id)

    def cached(self, deployment_id: str) -> Circuit | None:
        return self._circuits.get(deployment_id)

    def circuits(self) -> dict[str, Circuit]:
        """Every recorded circuit (what the state host sends a worker that connects)."""
        return dict(self._circuits)

    async def failure(
        self,
        deployment_id: str,
        now: float,
        policy: BreakerPolicy,
        *,
        trip: bool,
        retry_after: float | None,
        error: str,
    ) -> Circuit:
        circuit = on_failure(
            self._circuits.get(deployment_id), now, policy, trip=trip, retry_after=retry_after, error=error
        )
        self._circuits[deployment_id] = circuit
        return circuit

    async def success(self, deployment_id: str) -> bool:
        return self._circuits.pop(deployment_id, None) is not None

    async def claim_probe(self, deployment_id: str, now: float, policy: BreakerPolicy) -> bool:
        circuit = self._circuits.get(deployment_id)
        if circuit is None or admission(circuit, now) != "probe":
            return False
        self._circuits[deployment_id] = replace(circuit, probe_until=now + policy.probe_timeout)
        return True

    async def aclose(self) -> None:
        return None


_FAILURE_LUA = """
local k = KEYS[1]
local now = tonumber(ARGV[1])
local allowed = tonumber(ARGV[2])
local base = tonumber(ARGV[3])
local maxc = tonumber(ARGV[4])
local trip = tonumber(ARGV[5])
local ra = tonumber(ARGV[6])
local ttl = tonumber(ARGV[8])
local c = redis.call('HMGET', k, 'failures', 'trips', 'open_until', 'probe_until', 'changed_at')
local failures = tonumber(c[1] or '0')
local trips = tonumber(c[2] or '0')
local open_until = tonumber(c[3] or '0')
local probe_until = tonumber(c[4] or '0')
local changed_at = tonumber(c[5] or '0')
if open_until <= now then
  failures = failures + 1
  changed_at = now
  if trip == 1 or trips > 0 or failures >= allowed then
    trips = trips + 1
    local cd
    if ra > 0 then cd = math.min(ra, maxc) else cd = math.min(base * 2 ^ (trips - 1), maxc) end
    open_until = now + cd
    failures = 0
    probe_until = 0
  end
end
redis.call('HSET', k, 'failures', failures, 'trips', trips, 'open_until', tostring(open_until),
  'probe_until', tostring(probe_until), 'last_error', ARGV[7], 'changed_at', tostring(changed_at))
redis.call('EXPIRE', k, ttl)
return {tostring(failures), tostring(trips), tostring(open_until), tostring(probe_until), tostring(changed_at)}
"""

_PROBE_LUA = """
local k = KEYS[1]
local now = tonumber(ARGV[1])
local c = redis.call('HMGET', k, 'trips', 'open_until', 'probe_until')
local trips = tonumber(c[1] or '0')
if trips == 0 or tonumber(c[2] or '0') > now or tonumber(c[3] or '0') > now then return 0 end
redis.call('HSET', k, 'probe_until', tostring(now + tonumber(ARGV[2])))
return 1
"""


class RedisHealthStore:
    """Circuits as Redis hashes (``<prefix>:<deployment id>``), updated by Lua scripts so
    replicas count failures and claim probes atomically. Reads go through a local cache that
    lives ``cache_ttl`` seconds, so a healthy deployment costs one round trip per second."""

    def __init__(self, redis: Any, *, prefix: str = "unigate:circuit", cache_ttl: float = 1.0) -> None:
        self.redis = redis
        self.prefix = prefix
        self.cache_ttl = cache_ttl
        self._cache: dict[str, tuple[float, Circuit | None]] = {}
        self._failure = redis.register_script(_FAILURE_LUA)
        self._probe = redis.register_script(_PROBE_LUA)

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> RedisHealthStore:
        from redis.asyncio import Redis

        return cls(Redis.from_url(url), **kwargs)

    def _key(self, deployment_id: str) -> str:
        return f"{self.prefix}:{deployment_id}"

    def cached(self, deployment_id: str) -> Circuit | None:
        entry = self._cache.get(deployment_id)
        return entry[1] if entry is not None else None

    async def get(self, deployment_id: str) -> Circuit | None:
        entry = self._cache.get(deployment_id)
        mono = time.monotonic()
        if entry is not None and entry[0] > mono:
            return entry[1]
        raw = await self.redis.hgetall(self._key(deployment_id))
        circuit = _circuit_from_hash(raw) if raw else None
        self._cache[deployment_id] = (mono + self.cache_ttl, circuit)
        return circuit

    async def failure(
        self,
        deployment_id: str,
        now: float,
        policy: BreakerPolicy,
        *,
        trip: bool,
        retry_after: float | None,
        error: str,
    ) -> Circuit:
        ttl = int(policy.max_cooldown * 4 + 3600)
        args = [
            now,
            policy.allowed_fails,
            policy.cooldown,
            policy.max_cooldown,
            int(trip),
            retry_after or 0,
            error,
            ttl,
        ]
        failures, trips, open_until, probe_until, changed_at = await self._failure(
            keys=[self._key(deployment_id)], args=args
        )
        circuit = Circuit(int(failures), int(trips), float(open_until), float(probe_until), error, float(changed_at))
        self._cache[deployment_id] = (time.monotonic() + self.cache_ttl, circuit)
        return circuit

    async def success(self, deployment_id: str) -> bool:
        self._cache[deployment_id] = (time.monotonic() + self.cache_ttl, None)
        return bool(await self.redis.delete(self._key(deployment_id)))

    async def claim_probe(self, deployment_id: str, now: float, policy: BreakerPolicy) -> bool:
        won = bool(await self._probe(keys=[self._key(deployment_id)], args=[now, policy.probe_timeout]))
        self._cache.pop(deployment_id, None)
        return won

    async def aclose(self) -> None:
        await self.redis.aclose()


def _circuit_from_hash(raw: dict[Any, Any]) -> Circuit:
    def field(name: str, default: str = "0") -> str:
        value = raw.get(name.encode(), raw.get(name, default))
        return value.decode() if isinstance(value, bytes) else str(value)

    return Circuit(
        failures=int(field("failures")),
        trips=int(field("trips")),
        open_until=float(field("open_until")),
        probe_until=float(field("probe_until")),
        last_error=field("last_error", ""),
        changed_at=float(field("changed_at")),
    )
