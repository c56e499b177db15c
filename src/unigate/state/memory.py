"""In-process state: one process, no configuration. Exact and atomic because every method runs
to completion on the event loop without awaiting in between.

Queues are journaled: each record is appended (one ``write`` syscall, no fsync) to a segment
file in ``journal_dir`` before ``settle`` returns, so a killed process loses nothing that was
settled; on start the journal is found again as pending records (consumers must be idempotent).
Memory stays bounded however long the consumer is stuck (a database outage): past
``MEMORY_RECORDS`` queued records, new ones live only in the journal and are read back from it.
"""

from __future__ import annotations

import math
import os
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from unigate.private_files import private_dir
from unigate.state.base import (
    Admission,
    BalanceCheck,
    Charge,
    Counter,
    SemaphoreCheck,
    WindowAdd,
    WindowCheck,
    retry_after_from_buckets,
)

BUCKETS = 60  # a window is kept as this many sub-buckets (1 s for a minute)
SEGMENT_RECORDS = 10_000
MEMORY_RECORDS = 20_000  # queued records held in memory per queue; the rest wait in the journal


@dataclass(slots=True)
class _Balance:
    """A spend counter: what was charged, and what is held by requests in flight.

    The sum of the holds is kept as they change, and expired holds are looked for only once
    the earliest expiry has passed: summing every hold on every admission cost O(requests in
    flight) each, so O(n²) over n concurrent requests on one key."""

    spent: int
    expires: float | None
    holds: dict[str, tuple[int, float]] = field(default_factory=dict)  # holder → (amount, expiry)
    held: int = 0  # the sum of the holds' amounts
    next_expiry: float = math.inf  # no hold expires before this (it may be earlier than the true first)

    def reserved(self, now: float) -> int:
        if now >= self.next_expiry:
            for holder in [h for h, (_, exp) in self.holds.items() if exp <= now]:
                self.held -= self.holds.pop(holder)[0]
            self.next_expiry = min((exp for _, exp in self.holds.values()), default=math.inf)
        return self.held

    def hold(self, holder: str, amount: int, expiry: float) -> None:
        """Add ``amount`` to what ``holder`` holds, which now expires at ``expiry``."""
        previous = self.holds.get(holder)
        if previous is not None:
            amount += previous[0]
            self.held -= previous[0]
        self.holds[holder] = (amount, expiry)
        self.held += amount
        if expiry < self.next_expiry:
            self.next_expiry = expiry

    def release(self, holder: str) -> None:
        previous = self.holds.pop(holder, None)
        if previous is not None:
            self.held -= previous[0]

    def extend(self, holder: str, expiry: float) -> None:
        """A later expiry for a hold (``next_expiry`` stays a safe lower bound)."""
        previous = self.holds.get(holder)
        if previous is not None:
            self.holds[holder] = (previous[0], expiry)


@dataclass(slots=True)
class _Segment:
    """One journal file: its records not yet acknowledged, in memory (``records``) or only on
    disk (``records is None``: spilled, loaded again when it is read)."""

    number: int
    remaining: int = 0  # records not yet acknowledged
    records: dict[int, bytes] | None = field(default_factory=dict)  # seq → record


@dataclass(slots=True)
class _Queue:
    """A journaled FIFO. At most ``memory_limit`` records are held in memory; beyond that new
    records live only in the journal (a database outage cannot exhaust memory) and are read
    back a segment at a time."""

    name: str
    directory: Path | None
    memory_limit: int = MEMORY_RECORDS
    segments: dict[int, _Segment] = field(default_factory=dict)  # oldest first
    current: int = 0  # the segment appends go to
    seq: int = 0
    handle: int | None = None
    in_memory: int = 0

    def path(self, segment: int) -> Path:
        assert self.directory is not None
        return self.directory / f"{self.name}.{segment:08d}.journal"

    def load(self) -> None:
        """Find the journal left by a previous run; its records are read lazily (spilled)."""
        if self.directory is None:
            return
        private_dir(self.directory)  # unwritten ledger rows: owner-only
        for path in sorted(self.directory.glob(f"{self.name}.*.journal")):
            number = int(path.name.rsplit(".", 2)[1])
            with path.open("rb") as handle:
                count = sum(1 for line in handle if line.strip())
            if count:
                self.segments[number] = _Segment(number, count, None)
            else:
                path.unlink(missing_ok=True)
            self.current = max(self.current, number + 1)

    def _read_segment(self, segment: _Segment) -> None:
        # a torn last line (killed mid-write) is only ever partial JSON: the consumer decides
        records = {seq: line for seq, line in enumerate(self.path(segment.number).read_bytes().split(b"\n")) if line}
        segment.records = records
        segment.remaining = len(records)
        self.in_memory += len(records)

    def append(self, record: bytes) -> None:
        if self.directory is not None and (self.handle is None or self.seq >= SEGMENT_RECORDS):
            self.rotate()
        segment = self.segments.get(self.current)
        if segment is None:
            segment = self.segments[self.current] = _Segment(self.current)
        seq = self.seq
        self.seq += 1
        if self.handle is not None:
            os.write(self.handle, record + b"\n")
        segment.remaining += 1
        if segment.records is not None:
            if self.in_memory < self.memory_limit or self.directory is None:
                # a copy of exactly its length: orjson.dumps returns bytes that keep the 4-8 KiB
                # buffer it wrote into, which made a backlog of 20,000 small rows ~160 MB
                segment.records[seq] = memoryview(record).tobytes()
                self.in_memory += 1
            else:  # memory is full: this segment lives on disk from now on
                self.in_memory -= len(segment.records)
                segment.records = None

    def rotate(self) -> None:
        """Start a new segment; records already written stay in the old one until acknowledged."""
        if self.directory is None:
            return
        if self.handle is not None:
            os.close(self.handle)
            self.handle = None
            old = self.segments.get(self.current)
            if old is not None and not old.remaining:
                self._drop(self.current)
            self.current += 1
        self.seq = 0
        self.handle = os.open(self.path(self.current), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)

    def read(self, count: int) -> list[tuple[str, bytes]]:
        out: list[tuple[str, bytes]] = []
        for number in sorted(self.segments):
            segment = self.segments[number]
            if segment.records is None:
                if number == self.current and self.handle is not None:
                    self.rotate()  # stop appending to a file about to be read back
                self._read_segment(segment)
            assert segment.records is not None
            for seq, record in segment.records.items():
                out.append((f"{number}-{seq}", record))
                if len(out) >= count:
                    break
            if number == self.current and segment.records and self.handle is not None:
                self.rotate()  # new appends go to a fresh segment; delivered ones can be dropped on ack
            if len(out) >= count:
                break
        return out

    @property
    def pending(self) -> int:
        return sum(segment.remaining for segment in self.segments.values())

    def ack(self, ids: Sequence[str]) -> None:
        for rid in ids:
            number_text, _, seq_text = rid.partition("-")
            segment = self.segments.get(int(number_text))
            if segment is None or segment.records is None or segment.records.pop(int(seq_text), None) is None:
                continue
            self.in_memory -= 1
            segment.remaining -= 1
            if not segment.remaining and segment.number != self.current:
                self._drop(segment.number)

    def _drop(self, number: int) -> None:
        self.segments.pop(number, None)
        if self.directory is not None:
            self.path(number).unlink(missing_ok=True)

    def close(self) -> None:
        if self.handle is not None:
            os.close(self.handle)
            self.handle = None
            current = self.segments.get(self.current)
            if current is None or not current.remaining:
                self._drop(self.current)


class MemoryState:
    """The single-process backend. ``clock`` is injectable for tests (defaults to wall time)."""

    def __init__(self, journal_dir: str | Path | None = None, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._journal = Path(journal_dir) if journal_dir is not None else None
        self._windows: dict[str, dict[int, int]] = {}
        self._semaphores: dict[str, dict[str, float]] = {}
        self._semaphore_next: dict[str, float] = {}  # no holder of the key expires before this
        self._balances: dict[str, _Balance] = {}
        self._values: dict[str, tuple[bytes, float | None]] = {}
        self._queues: dict[str, _Queue] = {}

    # -- windows ---------------------------------------------------------------------------

    def _window(self, key: str, window: float, now: float) -> tuple[dict[int, int], int, float]:
        size = window / BUCKETS
        current = math.floor(now / size)
        buckets = self._windows.setdefault(key, {})
        for index in [i for i in buckets if i <= current - BUCKETS]:
            del buckets[index]
        return buckets, current, size

    def _window_check(self, check: WindowCheck, now: float) -> float | None:
        buckets, _, size = self._window(check.key, check.window, now)
        total = sum(buckets.values())
        if total + check.amount <= check.limit:
            return None
        ordered = [(index * size, amount) for index, amount in sorted(buckets.items())]
        return retry_after_from_buckets(ordered, total, total + check.amount - check.limit, check.window, now)

    def _window_add(self, key: str, window: float, amount: int, now: float) -> None:
        buckets, current, _ = self._window(key, window, now)
        buckets[current] = buckets.get(current, 0) + amount

    async def window_total(self, key: str, window: float) -> int:
        buckets, _, _ = self._window(key, window, self._clock())
        return sum(buckets.values())

    # -- semaphores ------------------------------------------------------------------------

    def _holders(self, key: str, now: float) -> dict[str, float]:
        """The live holders of a concurrency slot; expired ones are looked for only once the
        earliest expiry has passed (a scan per admission cost O(requests in flight))."""
        holders = self._semaphores.setdefault(key, {})
        if now >= self._semaphore_next.get(key, math.inf):
            for holder in [h for h, exp in holders.items() if exp <= now]:
                del holders[holder]
            self._semaphore_next[key] = min(holders.values(), default=math.inf)
        return holders

    # -- balances --------------------------------------------------------------------------

    def _balance(self, key: str, now: float) -> _Balance | None:
        balance = self._balances.get(key)
        if balance is not None and balance.expires is not None and balance.expires <= now:
            del self._balances[key]
            return None
        return balance

    async def init_counter(self, key: str, spent: int, expire: float | None = None) -> None:
        now = self._clock()
        if self._balance(key, now) is None:
            self._balances[key] = _Balance(spent, now + expire if expire else None)

    async def counter(self, key: str) -> Counter | None:
        now = self._clock()
        balance = self._balance(key, now)
        return None if balance is None else Counter(balance.spent, balance.reserved(now))

    # -- admission and settlement ------------------------------------------------------------

    async def admit(
        self,
        holder: str,
        ttl: float,
        windows: Sequence[WindowCheck] = (),
        semaphores: Sequence[SemaphoreCheck] = (),
        balances: Sequence[BalanceCheck] = (),
    ) -> Admission:
        now = self._clock()
        missing = [i for i, check in enumerate(balances) if self._balance(check.key, now) is None]
        if missing:
            return Admission(False, "missing", missing[0], missing=missing)
        for index, window_check in enumerate(windows):
            retry = self._window_check(window_check, now)
            if retry is not None:
                return Admission(False, "window", index, retry_after=retry)
        for index, sem in enumerate(semaphores):
            holders = self._holders(sem.key, now)
            if holder not in holders and len(holders) >= sem.limit:
                soonest = min(holders.values(), default=now)
                return Admission(False, "semaphore", index, retry_after=max(0.0, soonest - now))
        for index, bal in enumerate(balances):
            balance = self._balance(bal.key, now)
            assert balance is not None
            available = bal.limit - balance.spent - balance.reserved(now)
            if bal.amount > available:
                return Admission(False, "balance", index, available=available)
        # every check passed: record all of them
        for window_check in windows:
            if window_check.record:
                self._window_add(window_check.key, window_check.window, window_check.amount, now)
        for sem in semaphores:
            self._semaphores[sem.key][holder] = now + ttl
            if now + ttl < self._semaphore_next.get(sem.key, math.inf):
                self._semaphore_next[sem.key] = now + ttl
        for bal in balances:
            self._balances[bal.key].hold(holder, bal.amount, now + ttl)
        return Admission(True)

    async def settle(
        self,
        holder: str,
        semaphores: Sequence[str] = (),
        charges: Sequence[Charge] = (),
        windows: Sequence[WindowAdd] = (),
        record: tuple[str, bytes] | None = None,
    ) -> None:
        now = self._clock()
        if record is not None:  # journal first: the charge below is then never lost
            self._queue(record[0]).append(record[1])
        for key in semaphores:
            self._semaphores.get(key, {}).pop(holder, None)
        for charge in charges:
            balance = self._balance(charge.key, now)
            if balance is None:
                balance = self._balances[charge.key] = _Balance(0, None)
            balance.release(holder)
            balance.spent += charge.amount
        for add in windows:
            if add.amount:
                self._window_add(add.key, add.window, add.amount, now)

    async def refresh(self, holder: str, ttl: float, semaphores: Sequence[str], balances: Sequence[str]) -> None:
        now = self._clock()
        for key in semaphores:
            holders = self._semaphores.get(key)
            if holders is not None and holder in holders:
                holders[holder] = now + ttl
        for key in balances:
            balance = self._balance(key, now)
            if balance is not None:
                balance.extend(holder, now + ttl)

    # -- queues ----------------------------------------------------------------------------

    def _queue(self, name: str) -> _Queue:
        queue = self._queues.get(name)
        if queue is None:
            safe = re.sub(r"[^A-Za-z0-9_.-]", "_", name)
            queue = self._queues[name] = _Queue(safe, self._journal)
            queue.load()
        return queue

    async def queue_read(self, queue: str, consumer: str, count: int) -> list[tuple[str, bytes]]:
        return self._queue(queue).read(count)

    async def queue_ack(self, queue: str, ids: Sequence[str]) -> None:
        self._queue(queue).ack(ids)

    async def queue_len(self, queue: str) -> int:
        return self._queue(queue).pending

    def queue_memory(self, queue: str) -> int:
        """Records of ``queue`` held in memory (the rest are only in the journal)."""
        return self._queue(queue).in_memory

    # -- values ----------------------------------------------------------------------------

    async def get(self, key: str) -> bytes | None:
        item = self._values.get(key)
        if item is None:
            return None
        if item[1] is not None and item[1] <= self._clock():
            del self._values[key]
            return None
        return item[0]

    async def set(self, key: str, value: bytes, ttl: float | None = None) -> None:
        self._values[key] = (value, self._clock() + ttl if ttl else None)

    async def delete(self, key: str) -> None:
        self._values.pop(key, None)
        self._balances.pop(key, None)
        self._windows.pop(key, None)
        self._semaphores.pop(key, None)
        self._semaphore_next.pop(key, None)

    async def incr(self, key: str, amount: int = 1, ttl: float | None = None) -> int:
        current = await self.get(key)
        value = int(current or 0) + amount
        expiry = self._values[key][1] if current is not None else (self._clock() + ttl if ttl else None)
        self._values[key] = (str(value).encode(), expiry)
        return value

    async def aclose(self) -> None:
        for queue in self._queues.values():
            queue.close()
