"""The state interface: what must agree across replicas, as a few atomic primitives.

Every backend (``memory`` for one process, ``redis`` for many) implements :class:`StateBackend`
with the same semantics; the same test suite runs over both.

The primitives:

- **admit** — one atomic, all-or-nothing admission: sliding-window counters (rate limits),
  semaphores (concurrency limits) and balance reservations (budgets). Either every check
  passes and every window/semaphore/reservation is recorded under ``holder``, or nothing is
  recorded and the first failing check is reported.
- **settle** — the other half: drop ``holder``'s reservations and semaphore slots, charge the
  actual amounts, add to windows, and append a record to a durable queue — atomically, so a
  charge and its ledger record can never be separated (charge first, then acknowledge). On a
  shared backend a holder settles at most once, so a settle retried after a lost reply (the
  connection died after the server applied it) is not applied twice.
- **refresh** — extend ``holder``'s TTLs (a live replica keeps its long requests alive; a dead
  replica's reservations and slots expire).
- **counters** — a balance counter is ``spent`` plus the sum of live reservations; the limit is
  the caller's (from the durable store). ``init_counter`` seeds ``spent`` only if absent, so
  the first replica to load it from the database wins and later loads never rewind it.
- **queues** — durable FIFO of records with at-least-once delivery: ``queue_read`` hands out a
  batch (re-delivering batches a dead consumer left unacknowledged), ``queue_ack`` drops it.
- **get/set/delete** with TTL, and ``incr`` — for anything else (cooldowns, versions).

Amounts are integers (balances in nano-USD), so sums are exact.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True, slots=True)
class WindowCheck:
    """``sum(window) + amount <= limit`` over the last ``window`` seconds; ``record`` adds ``amount``."""

    key: str
    limit: int
    window: float
    amount: int = 1
    record: bool = True


@dataclass(frozen=True, slots=True)
class SemaphoreCheck:
    """At most ``limit`` live holders of ``key``."""

    key: str
    limit: int


@dataclass(frozen=True, slots=True)
class BalanceCheck:
    """``spent + reserved + amount <= limit``; reserves ``amount`` for the holder. A counter
    that does not exist yet fails the admission with kind "missing" (seed it with
    ``init_counter`` from the durable store, then retry)."""

    key: str
    limit: int
    amount: int


@dataclass(frozen=True, slots=True)
class Charge:
    """Charge ``amount`` to ``key``'s ``spent`` (and drop the holder's reservation on it)."""

    key: str
    amount: int


@dataclass(frozen=True, slots=True)
class WindowAdd:
    key: str
    window: float
    amount: int


@dataclass(slots=True)
class Admission:
    ok: bool
    kind: str | None = None  # window | semaphore | balance | missing
    index: int | None = None  # which check failed (in its own list)
    retry_after: float | None = None  # windows: seconds until the check could pass
    missing: list[int] = field(default_factory=list)  # balances whose counters are not loaded
    available: int | None = None  # balances: what was left when the check failed


@dataclass(slots=True)
class Counter:
    spent: int
    reserved: int


class StateBackend(Protocol):
    """Shared counters, reservations, windows, semaphores, queues and TTL'd values."""

    async def admit(
        self,
        holder: str,
        ttl: float,
        windows: Sequence[WindowCheck] = (),
        semaphores: Sequence[SemaphoreCheck] = (),
        balances: Sequence[BalanceCheck] = (),
    ) -> Admission: ...

    async def settle(
        self,
        holder: str,
        semaphores: Sequence[str] = (),
        charges: Sequence[Charge] = (),
        windows: Sequence[WindowAdd] = (),
        record: tuple[str, bytes] | None = None,
    ) -> None: ...

    async def refresh(self, holder: str, ttl: float, semaphores: Sequence[str], balances: Sequence[str]) -> None: ...

    async def init_counter(self, key: str, spent: int, expire: float | None = None) -> None: ...

    async def counter(self, key: str) -> Counter | None: ...

    async def window_total(self, key: str, window: float) -> int: ...

    async def queue_read(self, queue: str, consumer: str, count: int) -> list[tuple[str, bytes]]: ...

    async def queue_ack(self, queue: str, ids: Sequence[str]) -> None: ...

    async def queue_len(self, queue: str) -> int: ...

    async def get(self, key: str) -> bytes | None: ...

    async def set(self, key: str, value: bytes, ttl: float | None = None) -> None: ...

    async def delete(self, key: str) -> None: ...

    async def incr(self, key: str, amount: int = 1, ttl: float | None = None) -> int: ...

    async def aclose(self) -> None: ...


def default_consumer() -> str:
    """A queue consumer name unique to this process (Redis's consumer group tracks deliveries by it)."""
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


def retry_after_from_buckets(
    buckets: list[tuple[float, int]], total: int, need: int, window: float, now: float
) -> float:
    """Seconds until ``total + need <= limit`` as old buckets leave the window.

    ``buckets``: (bucket start, amount) oldest first; ``need`` = total + amount - limit.
    """
    freed = 0
    for start, amount in buckets:
        freed += amount
        if freed >= need:
            return max(0.0, start + window - now)
    return window
