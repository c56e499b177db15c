"""The state host: ``unigate serve --workers N`` on one machine, without Redis.

The supervising parent process keeps the one :class:`MemoryState` (journaled under
``data_dir/journal``) and the one :class:`MemoryHealthStore` (cooldowns), and serves them to its
workers over a Unix socket (:mod:`unigate.state.wire` framing; the workers' side is
:mod:`unigate.state.link`). Each operation runs to completion on the host's event loop before
the next one starts, so admissions, settlements and circuit changes are exactly as atomic as in
one process. The host owns the journal: a settled charge is journaled before its reply leaves,
so a worker that dies loses nothing it was told was settled; its reservations and semaphore
slots expire with their TTL.

Circuits are pushed: every change is sent to every worker, which keeps a mirror, so the
per-request cooldown check is a local dictionary read and a cooldown one worker opens is seen
by the others one socket hop later.

Queues are delivered like a Redis consumer group: a record handed to one worker is not handed to
another until that worker's connection closes without acknowledging it, so workers do not write
the same ledger rows twice and any worker can flush.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, cast

from unigate.state.base import BalanceCheck, Charge, SemaphoreCheck, WindowAdd, WindowCheck
from unigate.state.circuits import BreakerPolicy, Circuit, MemoryHealthStore
from unigate.state.memory import MemoryState
from unigate.state.wire import FrameReader, circuit_tuple, frame

log = logging.getLogger("unigate.state")


def _now(operation: Coroutine[Any, Any, Any]) -> Any:
    """Run a MemoryState/MemoryHealthStore coroutine to completion, synchronously: they never
    suspend (that is what makes them atomic), so no task per message is needed."""
    try:
        operation.send(None)
    except StopIteration as done:
        return done.value
    operation.close()
    raise RuntimeError("a state operation suspended")


class _Connection(asyncio.Protocol):
    def __init__(self, host: StateHost) -> None:
        self.host = host
        self.reader = FrameReader()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's are not asyncio.Transport subclasses
        self.host.connections.add(self)
        snapshot = [(deployment, circuit_tuple(c)) for deployment, c in self.host.health.circuits().items()]
        self.transport.write(frame((0, "circuits", snapshot)))

    def data_received(self, data: bytes) -> None:
        try:
            messages = self.reader.feed(data)
        except ValueError as exc:
            log.error("state host: dropping a worker connection: %s", exc)
            assert self.transport is not None
            self.transport.close()
            return
        replies = []
        for request_id, op, args in messages:
            handler = self.host.ops.get(op)
            if handler is None:
                replies.append(frame((request_id, False, f"unknown state operation {op!r}")))
                continue
            try:
                result = handler(self, *args)
            except Exception as exc:  # the worker raises it; the host goes on
                replies.append(frame((request_id, False, f"{type(exc).__name__}: {exc}")))
            else:
                replies.append(frame((request_id, True, result)))
        if self.transport is not None and replies:
            self.transport.write(b"".join(replies))  # every reply to this read in one write

    def connection_lost(self, exc: Exception | None) -> None:
        self.host.connections.discard(self)
        for delivered in self.host.delivered.values():  # unacknowledged: any worker may take them
            for record_id in [r for r, holder in delivered.items() if holder is self]:
                del delivered[record_id]


class StateHost:
    """Serves ``state`` and ``health`` on the Unix socket ``path``."""

    def __init__(self, path: str | Path, state: MemoryState, health: MemoryHealthStore | None = None) -> None:
        self.path = Path(path)
        self.state = state
        self.health = health or MemoryHealthStore()
        self.connections: set[_Connection] = set()
        self.delivered: dict[str, dict[str, _Connection]] = {}  # queue → record id → its worker
        self._server: asyncio.AbstractServer | None = None
        self.ops: dict[str, Callable[..., Any]] = {
            "admit": self._admit,
            "settle": self._settle,
            "refresh": lambda _c, *a: _now(state.refresh(*a)),
            "init_counter": lambda _c, *a: _now(state.init_counter(*a)),
            "counter": self._counter,
            "window_total": lambda _c, *a: _now(state.window_total(*a)),
            "queue_read": self._queue_read,
            "queue_ack": self._queue_ack,
            "queue_len": lambda _c, *a: _now(state.queue_len(*a)),
            "get": lambda _c, *a: _now(state.get(*a)),
            "set": lambda _c, *a: _now(state.set(*a)),
            "delete": lambda _c, *a: _now(state.delete(*a)),
            "incr": lambda _c, *a: _now(state.incr(*a)),
            "circuit_failure": self._circuit_failure,
            "circuit_success": self._circuit_success,
            "circuit_probe": self._circuit_probe,
        }

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_unix_server(lambda: _Connection(self), path=str(self.path))
        os.chmod(self.path, 0o600)

    async def aclose(self) -> None:
        if self._server is not None:
            self._server.close()
        for connection in list(self.connections):
            if connection.transport is not None:
                connection.transport.close()
        await self.state.aclose()
        with contextlib.suppress(OSError):
            self.path.unlink()

    # -- operations: (connection, *args) → a marshal-able result ------------------------------

    def _admit(self, _c: _Connection, holder: str, ttl: float, windows: Any, semaphores: Any, balances: Any) -> Any:
        admission = _now(
            self.state.admit(
                holder,
                ttl,
                [WindowCheck(*w) for w in windows],
                [SemaphoreCheck(*s) for s in semaphores],
                [BalanceCheck(*b) for b in balances],
            )
        )
        return (
            admission.ok,
            admission.kind,
            admission.index,
            admission.retry_after,
            admission.missing,
            admission.available,
        )

    def _settle(self, _c: _Connection, holder: str, semaphores: Any, charges: Any, windows: Any, record: Any) -> None:
        _now(
            self.state.settle(
                holder, semaphores, [Charge(*c) for c in charges], [WindowAdd(*w) for w in windows], record
            )
        )

    def _counter(self, _c: _Connection, key: str) -> Any:
        counter = _now(self.state.counter(key))
        return None if counter is None else (counter.spent, counter.reserved)

    def _queue_read(self, connection: _Connection, queue: str, consumer: str, count: int) -> Any:
        delivered = self.delivered.setdefault(queue, {})
        others = sum(1 for holder in delivered.values() if holder is not connection)
        records = _now(self.state.queue_read(queue, consumer, count + others))
        mine = [(rid, record) for rid, record in records if delivered.get(rid, connection) is connection][:count]
        for rid, _ in mine:
            delivered[rid] = connection
        return mine

    def _queue_ack(self, _c: _Connection, queue: str, ids: list[str]) -> None:
        delivered = self.delivered.get(queue, {})
        for rid in ids:
            delivered.pop(rid, None)
        _now(self.state.queue_ack(queue, ids))

    def _broadcast(self, deployment: str, circuit: Circuit | None) -> None:
        message = frame((0, "circuit", (deployment, circuit_tuple(circuit))))
        for connection in self.connections:
            if connection.transport is not None:
                connection.transport.write(message)

    def _circuit_failure(
        self,
        _c: _Connection,
        deployment: str,
        now: float,
        policy: Any,
        trip: bool,
        retry_after: float | None,
        error: str,
    ) -> Any:
        circuit = _now(
            self.health.failure(
                deployment, now, BreakerPolicy(*policy), trip=trip, retry_after=retry_after, error=error
            )
        )
        self._broadcast(deployment, circuit)
        return circuit_tuple(circuit)

    def _circuit_success(self, _c: _Connection, deployment: str) -> bool:
        closed = bool(_now(self.health.success(deployment)))
        if closed:
            self._broadcast(deployment, None)
        return closed

    def _circuit_probe(self, _c: _Connection, deployment: str, now: float, policy: Any) -> bool:
        won = bool(_now(self.health.claim_probe(deployment, now, BreakerPolicy(*policy))))
        if won:
            self._broadcast(deployment, self.health.cached(deployment))
        return won


class HostThread:
    """Runs a :class:`StateHost` on its own event loop in a thread of the supervising process
    (whose main thread is uvicorn's supervisor: it only waits on signals and its workers)."""

    @classmethod
    def for_journal(cls, journal_dir: str | Path) -> HostThread:
        """A host for ``unigate serve --workers N``: its socket in a fresh owner-only directory
        (a short path: a Unix socket's is limited to about 100 bytes), removed on stop."""
        directory = Path(tempfile.mkdtemp(prefix="unigate-state-"))
        return cls(StateHost(directory / "state.sock", MemoryState(journal_dir)), cleanup=directory)

    def __init__(self, host: StateHost, *, cleanup: Path | None = None) -> None:
        self.host = host
        self._cleanup = cleanup
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="unigate-state-host", daemon=True)

    def start(self) -> None:
        self._thread.start()
        self._ready.wait()
        if self._error is not None:
            raise self._error

    def _run(self) -> None:
        loop: asyncio.AbstractEventLoop
        try:
            import uvloop

            loop = uvloop.new_event_loop()
        except ImportError:
            loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self.host.start())
        except BaseException as exc:
            self._error = exc
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(self.host.aclose())  # closes the journal
            loop.close()

    def stop(self) -> None:
        """After the workers have exited (they flush the ledger through the host on shutdown)."""
        if self._loop is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(30)
        if self._cleanup is not None:
            shutil.rmtree(self._cleanup, ignore_errors=True)
