"""uvicorn's httptools protocol with the limits of ``connections.py`` (a header deadline and a
connection cap) and responses of known length sent in one write (``unigate serve`` passes it as
uvicorn's ``http`` protocol)."""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle

from unigate.server.connections import STATE_KEY, ConnectionLimits


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a header deadline and a connection cap.

    The deadline is a time, not a timer per request: a new message moves it, complete headers
    clear it, and one timer per connection checks it when it fires (and follows a deadline that
    moved on). Arming and cancelling a loop timer for every request of a keep-alive connection
    cost ~2.5 µs each, a few percent of a request's whole CPU time under load."""

    _header_deadline: float | None = None  # loop time by which the current headers must be complete
    _header_timer: asyncio.TimerHandle | None = None

    def _limits(self) -> ConnectionLimits | None:
        state: Any = getattr(self, "app_state", None) or {}
        limits = state.get(STATE_KEY)
        return limits if isinstance(limits, ConnectionLimits) else None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        limits = self._limits()
        if limits is None:
            return
        if len(self.connections) > limits.max_connections:
            transport.close()  # over the cap: refused before it can hold anything
            return
        self._arm(limits)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        limits = self._limits()
        if limits is not None:
            self._arm(limits)

    def on_headers_complete(self) -> None:
        self._header_deadline = None  # a timer still armed finds nothing to do
        super().on_headers_complete()
        # the cycle's task is created but has not run: it will send through the subclass
        if type(self.cycle) is RequestResponseCycle:
            self.cycle.__class__ = CoalescingCycle

    def connection_lost(self, exc: Exception | None) -> None:
        self._header_deadline = None
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None
        super().connection_lost(exc)

    def _arm(self, limits: ConnectionLimits) -> None:
        self._header_deadline = self.loop.time() + limits.header_timeout
        if self._header_timer is None:
            self._header_timer = self.loop.call_at(self._header_deadline, self._check_headers)

    def _check_headers(self) -> None:
        self._header_timer = None
        deadline = self._header_deadline
        if deadline is None:
            return  # the headers came in time; the next message arms the timer again
        if self.loop.time() < deadline:  # a later message, still within its own deadline
            self._header_timer = self.loop.call_at(deadline, self._check_headers)
            return
        if not self.transport.is_closing():
            self.transport.close()


class _Held:
    """Stands in for the transport while a response's head is held back: collects writes."""

    __slots__ = ("closing", "parts")

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.closing = False

    def write(self, data: bytes) -> None:
        self.parts.append(data)

    def close(self) -> None:
        self.closing = True  # "connection: close": closed once the held bytes are written


class CoalescingCycle(RequestResponseCycle):
    """uvicorn's request cycle, sending a response of known length in one write.

    uvicorn writes the status line and headers as soon as ``http.response.start`` arrives, then
    the body: two ``send`` syscalls, each of which (on loopback and on a LAN alike) pays the
    TCP stack and a wake-up of the peer. When the start message carries a ``content-length``
    the body follows at once (``Response.send_to``), so the head waits for it and both leave
    together. Streams (no length) are written as before: their head goes out before the first
    event is ready."""

    _head: _Held | None = None

    async def send(self, message: Any) -> None:
        kind = message["type"]
        if kind == "http.response.start" and not self.response_started and _has_length(message):
            real, self._head = self.transport, _Held()
            self.transport = self._head  # type: ignore[assignment]
            try:
                await super().send(message)
            finally:
                self.transport = real
            return
        head = self._head
        if head is None or kind != "http.response.body":
            await super().send(message)
            return
        self._head, real = None, self.transport
        self.transport = head  # type: ignore[assignment]
        try:
            await super().send(message)
        finally:
            self.transport = real
        if not self.disconnected:
            real.write(b"".join(head.parts))
        if head.closing:
            real.close()


def _has_length(message: Any) -> bool:
    return any(name.lower() == b"content-length" for name, _ in message.get("headers", ()))
