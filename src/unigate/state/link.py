"""A worker's side of the state host (:mod:`unigate.state.host`): :class:`SharedState` (the
:class:`~unigate.state.base.StateBackend`) and :class:`SharedHealthStore` (cooldowns), both
over one :class:`StateLink`.

One round trip per operation. Requests are pipelined: each carries an id and waits on its own
future, and every request made in one event-loop iteration leaves in one write (the host
answers everything it read in one write too), so under load the socket costs a few syscalls
per batch of requests, not per request. A lost connection fails the requests in flight (the
caller sees an error, as with Redis; nothing is resent, so nothing is applied twice) and the
next request connects again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

from unigate.state.base import (
    Admission,
    BalanceCheck,
    Charge,
    Counter,
    SemaphoreCheck,
    WindowAdd,
    WindowCheck,
)
from unigate.state.circuits import BreakerPolicy, Circuit
from unigate.state.wire import FrameReader, frame, policy_tuple


class StateLinkError(RuntimeError):
    """The host refused an operation (its error text) or the connection to it was lost."""


class _Protocol(asyncio.Protocol):
    def __init__(self, link: StateLink) -> None:
        self.link = link
        self.reader = FrameReader()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.link._transport = cast(asyncio.Transport, transport)  # uvloop's are not asyncio.Transport subclasses

    def data_received(self, data: bytes) -> None:
        try:
            messages = self.reader.feed(data)
        except ValueError as exc:
            self.link._lost(exc)
            return
        self.link._received(messages)

    def connection_lost(self, exc: Exception | None) -> None:
        self.link._lost(exc)


class StateLink:
    """One connection to the host at ``path``; also keeps the host's circuits (pushed to it)."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self.circuits: dict[str, Circuit] = {}
        self._transport: asyncio.Transport | None = None
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._outbox: list[bytes] = []
        self._next_id = 0
        self._lock = asyncio.Lock()
        self._snapshot: asyncio.Future[None] | None = None
        self._closed = False

    async def ensure(self) -> None:
        transport = self._transport
        if transport is None or transport.is_closing():
            await self.connect()

    async def call(self, op: str, *args: Any) -> Any:
        await self.ensure()
        self._next_id += 1
        request_id = self._next_id
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._pending[request_id] = future
        if not self._outbox:
            loop.call_soon(self._flush)
        self._outbox.append(frame((request_id, op, args)))
        return await future

    async def connect(self) -> None:
        async with self._lock:
            if self._transport is not None and not self._transport.is_closing():
                return
            if self._closed:
                raise StateLinkError("the state link is closed")
            loop = asyncio.get_running_loop()
            self._snapshot = loop.create_future()
            try:
                await loop.create_unix_connection(lambda: _Protocol(self), self.path)
            except OSError as exc:
                raise StateLinkError(f"cannot reach the state host at {self.path}: {exc}") from exc
            await self._snapshot  # the host's circuits come first: cooldowns are known before routing

    def _flush(self) -> None:
        if self._outbox and self._transport is not None:
            self._transport.write(b"".join(self._outbox))
        self._outbox.clear()

    def _received(self, messages: list[Any]) -> None:
        for request_id, ok, result in messages:
            if request_id == 0:
                self._push(ok, result)
                continue
            future = self._pending.pop(request_id, None)
            if future is None or future.done():
                continue
            if ok is True:
                future.set_result(result)
            else:
                future.set_exception(StateLinkError(f"state host: {result}"))

    def _push(self, topic: str, payload: Any) -> None:
        if topic == "circuit":
            deployment, values = payload
            if values is None:
                self.circuits.pop(deployment, None)
            else:
                self.circuits[deployment] = Circuit(*values)
        elif topic == "circuits":
            self.circuits = {deployment: Circuit(*values) for deployment, values in payload}
            if self._snapshot is not None and not self._snapshot.done():
                self._snapshot.set_result(None)

    def _lost(self, exc: BaseException | None) -> None:
        if self._transport is not None:
            self._transport.close()
        self._transport = None
        self._outbox.clear()
        error = StateLinkError(f"lost the connection to the state host: {exc or 'closed'}")
        pending, self._pending = self._pending, {}
        for future in pending.values():
            if not future.done():
                future.set_exception(error)
        if self._snapshot is not None and not self._snapshot.done():
            self._snapshot.set_exception(error)

    async def aclose(self) -> None:
        self._closed = True
        if self._transport is not None:
            self._transport.close()
            self._transport = None


class SharedState:
    """The :class:`~unigate.state.base.StateBackend` of a worker: the host's MemoryState."""

    def __init__(self, link: StateLink) -> None:
        self.link = link

    async def admit(
        self,
        holder: str,
        ttl: float,
        windows: Sequence[WindowCheck] = (),
        semaphores: Sequence[SemaphoreCheck] = (),
        balances: Sequence[BalanceCheck] = (),
    ) -> Admission:
        ok, kind, index, retry_after, missing, available = await self.link.call(
            "admit",
            holder,
            ttl,
            [(w.key, w.limit, w.window, w.amount, w.record) for w in windows],
            [(s.key, s.limit) for s in semaphores],
            [(b.key, b.limit, b.amount) for b in balances],
        )
        if ok:
            return Admission(True)
        return Admission(False, kind, index, retry_after, missing, available)

    async def settle(
        self,
        holder: str,
        semaphores: Sequence[str] = (),
        charges: Sequence[Charge] = (),
        windows: Sequence[WindowAdd] = (),
        record: tuple[str, bytes] | None = None,
    ) -> None:
        await self.link.call(
            "settle",
            holder,
            list(semaphores),
            [(c.key, c.amount) for c in charges],
            [(w.key, w.window, w.amount) for w in windows],
            record,
        )

    async def refresh(self, holder: str, ttl: float, semaphores: Sequence[str], balances: Sequence[str]) -> None:
        await self.link.call("refresh", holder, ttl, list(semaphores), list(balances))

    async def init_counter(self, key: str, spent: int, expire: float | None = None) -> None:
        await self.link.call("init_counter", key, spent, expire)

    async def counter(self, key: str) -> Counter | None:
        found = await self.link.call("counter", key)
        return None if found is None else Counter(*found)

    async def window_total(self, key: str, window: float) -> int:
        return int(await self.link.call("window_total", key, window))

    async def queue_read(self, queue: str, consumer: str, count: int) -> list[tuple[str, bytes]]:
        records: list[tuple[str, bytes]] = await self.link.call("queue_read", queue, consumer, count)
        return records  # marshal keeps tuples tuples

    async def queue_ack(self, queue: str, ids: Sequence[str]) -> None:
        await self.link.call("queue_ack", queue, list(ids))

    async def queue_len(self, queue: str) -> int:
        return int(await self.link.call("queue_len", queue))

    async def get(self, key: str) -> bytes | None:
        value: bytes | None = await self.link.call("get", key)
        return value

    async def set(self, key: str, value: bytes, ttl: float | None = None) -> None:
        await self.link.call("set", key, value, ttl)

    async def delete(self, key: str) -> None:
        await self.link.call("delete", key)

    async def incr(self, key: str, amount: int = 1, ttl: float | None = None) -> int:
        return int(await self.link.call("incr", key, amount, ttl))

    async def aclose(self) -> None:
        await self.link.aclose()


class SharedHealthStore:
    """Cooldowns kept by the host. Reads are local (the host pushes every change to every
    worker); a failure, a success or a probe claim is one round trip, atomic on the host."""

    def __init__(self, link: StateLink) -> None:
        self.link = link

    def cached(self, deployment_id: str) -> Circuit | None:
        return self.link.circuits.get(deployment_id)

    async def get(self, deployment_id: str) -> Circuit | None:
        await self.link.ensure()
        return self.link.circuits.get(deployment_id)

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
        values = await self.link.call(
            "circuit_failure", deployment_id, now, policy_tuple(policy), trip, retry_after, error
        )
        return Circuit(*values)

    async def success(self, deployment_id: str) -> bool:
        return bool(await self.link.call("circuit_success", deployment_id))

    async def claim_probe(self, deployment_id: str, now: float, policy: BreakerPolicy) -> bool:
        return bool(await self.link.call("circuit_probe", deployment_id, now, policy_tuple(policy)))

    async def aclose(self) -> None:
        await self.link.aclose()
