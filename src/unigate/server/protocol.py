"""uvicorn's httptools protocol with the limits of ``connections.py``: a header deadline and a
connection cap (``unigate serve`` passes it as uvicorn's ``http`` protocol)."""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from unigate.server.connections import STATE_KEY, ConnectionLimits


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a header deadline and a connection cap."""

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
        self._disarm()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self, limits: ConnectionLimits) -> None:
        self._disarm()
        self._header_timer = self.loop.call_later(limits.header_timeout, self._headers_too_slow)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        if not self.transport.is_closing():
            self.transport.close()
