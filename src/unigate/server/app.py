"""The ASGI application: route table, auth, error mapping, streaming with disconnect handling.

Built by :mod:`unigate.composition` from its parts: the Gateway, the authenticator, the route
table the surfaces filled (:mod:`unigate.server.routes`) and the lifecycle steps. Handlers get a
:class:`Request` whose ``principal`` is already authenticated and return a response object.
Every response carries ``x-request-id``; every error is OpenAI-shaped JSON with the right status.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from unigate.allocator import limit_arenas
from unigate.context import Principal
from unigate.errors import GatewayError
from unigate.gateway import Gateway
from unigate.server.auth import Authenticator, MasterKeyAuthenticator
from unigate.server.connections import STATE_KEY as CONNECTION_LIMITS
from unigate.server.connections import ConnectionLimits
from unigate.server.guard import check_request
from unigate.server.http import (
    Receive,
    Request,
    Response,
    Scope,
    Send,
    StreamingResponse,
    error_response,
    read_body,
)
from unigate.server.routes import Route, Routes, openai_error
from unigate.threads import BUSY_HELPERS
from unigate.types import new_request_id

log = logging.getLogger("unigate.server")

Step = Callable[[], Awaitable[None]]


@dataclass
class Lifecycle:
    """What runs around serving: ``startup`` steps in order before the first request,
    ``background`` work started after them (readiness does not wait for it; cancelled on
    shutdown), ``shutdown`` steps in reverse order."""

    startup: list[Step] = field(default_factory=list)
    background: list[Step] = field(default_factory=list)
    shutdown: list[Step] = field(default_factory=list)


@dataclass
class Readiness:
    """Set while the app serves (between start-up and shutdown); ``/health/ready`` reads it."""

    ready: bool = False


class App:
    def __init__(
        self,
        gateway: Gateway,
        authenticator: Authenticator | None = None,
        routes: Routes | None = None,
        *,
        lifecycle: Lifecycle | None = None,
        readiness: Readiness | None = None,
    ) -> None:
        self.gateway = gateway
        self.config = gateway.config
        self.authenticator: Authenticator = authenticator or MasterKeyAuthenticator(self.config.server.master_key)
        self.routes = routes or Routes()
        self.lifecycle = lifecycle or Lifecycle()
        self.readiness = readiness or Readiness()
        self.max_body = self.config.server.max_body_bytes
        self.body_timeout = self.config.server.body_timeout
        # no master key: loopback only, and requests addressed to other hosts are refused (guard.py)
        self.loopback_mode = not self.config.server.master_key
        self.trusted_origins = frozenset(o.rstrip("/").lower() for o in self.config.server.cors_origins)
        self.background: list[asyncio.Task[None]] = []

    @property
    def ready(self) -> bool:
        return self.readiness.ready

    async def dispatch(
        self, method: str, path: str, body: bytes, principal: Principal, request_id: str
    ) -> Response | StreamingResponse:
        """Serve a request made inside the gateway (a batch line) as ``principal``, through the
        same route and handler as one from a client; errors come back as error responses."""
        scope: Scope = {
            "type": "http",
            "method": method,
            "path": path,
            "headers": [(b"content-type", b"application/json")],
            "query_string": b"",
        }

        async def nothing() -> dict[str, Any]:
            return {"type": "http.disconnect"}

        request = Request(scope, nothing, body)
        request.path_params["request_id"] = request_id
        try:
            route = self.routes.match(method, path, request)
            if route.public:
                return await route.handler(request)
            return await route.handler(request, principal)
        except GatewayError as exc:
            return error_response(exc)
        except Exception:
            log.exception("unhandled error on internal %s %s", method, path)
            return error_response(GatewayError("Internal error in the gateway; see its log.", code="internal_error"))

    # -- ASGI ------------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(scope, receive, send)

    async def _lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                server = self.config.server
                state = scope.get("state")
                if state is not None:  # read by the server's connection protocol (connections.py)
                    state[CONNECTION_LIMITS] = ConnectionLimits(server.header_timeout, server.max_connections)
                try:
                    await self.startup()
                except Exception as exc:
                    log.exception("startup failed")
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def startup(self) -> None:
        limit_arenas()  # before the helper threads start (unigate/allocator.py)
        await self.gateway.start()
        for step in self.lifecycle.startup:
            await step()
        self.background.extend(asyncio.ensure_future(work()) for work in self.lifecycle.background)
        # Everything loaded so far (config, catalog, price tables, routers) lives as long as the
        # process: keep it out of the cyclic collector's full passes, which otherwise walk it
        # every few thousand requests and show up as tail-latency spikes.
        gc.collect()
        gc.freeze()
        self.readiness.ready = True

    async def shutdown(self) -> None:
        self.readiness.ready = False
        for task in self.background:
            task.cancel()
        await asyncio.gather(*self.background, return_exceptions=True)
        for step in reversed(self.lifecycle.shutdown):
            try:
                await step()
            except Exception:
                log.exception("shutdown step failed")
        await self.gateway.aclose()

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        BUSY_HELPERS.enter()
        try:
            await self._serve(scope, receive, send)
        finally:
            BUSY_HELPERS.leave()

    async def _serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        request_id = new_request_id()
        id_header = (b"x-request-id", request_id.encode())
        request = Request(scope, receive)
        request.path_params["request_id"] = request_id
        route: Route | None = None
        try:
            route = self.routes.match(scope["method"], scope["path"], request)
            check_request(request, self.loopback_mode, self.trusted_origins)
            if scope["method"] in ("POST", "PUT", "PATCH"):
                request.body = await read_body(receive, route.max_body or self.max_body, self.body_timeout)
            if route.public:
                response = await route.handler(request)
            else:
                principal = await self.authenticator.authenticate(request)
                response = await route.handler(request, principal)
        except GatewayError as exc:
            response = (route.errors if route is not None else openai_error)(exc, request_id)
        except Exception:
            log.exception("unhandled error on %s %s", scope["method"], scope["path"])
            internal = GatewayError("Internal error in the gateway; see its log.", code="internal_error")
            response = (route.errors if route is not None else openai_error)(internal, request_id)
        if isinstance(response, StreamingResponse):
            await self._stream(response, receive, send, id_header)
        else:
            await response.send_to(send, [id_header])

    async def _stream(
        self, response: StreamingResponse, receive: Receive, send: Send, id_header: tuple[bytes, bytes]
    ) -> None:
        """Send the stream; if the client disconnects first, stop pulling (which cancels upstream)."""
        await send(
            {
                "type": "http.response.start",
                "status": response.status,
                "headers": [*response.headers, id_header],
            }
        )

        # The producer pulls chunks into a queue; this task sends everything queued in one write.
        # Events that arrive in one upstream read are produced without yielding to the loop, so
        # they leave in one write too — fewer syscalls, same latency for the first byte of each.
        queue: asyncio.Queue[bytes | None] = asyncio.Queue()

        async def produce() -> None:
            try:
                async for data in response.chunks:
                    queue.put_nowait(data)
            finally:
                queue.put_nowait(None)

        async def watch() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            producing.cancel()  # stop pulling: closing the chain cancels the upstream request

        producing = asyncio.ensure_future(produce())
        watching = asyncio.ensure_future(watch())
        try:
            finished = False
            while not finished:
                parts = [await queue.get()]
                while not queue.empty():
                    parts.append(queue.get_nowait())
                if parts[-1] is None:
                    finished = True
                    parts.pop()
                if parts:
                    body = parts[0] if len(parts) == 1 else b"".join(parts)  # type: ignore[arg-type]
                    await send({"type": "http.response.body", "body": body, "more_body": True})
            if not watching.done():
                await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            _discard(watching)  # it only waits for the client's disconnect
            if producing.done():
                _discard(producing)  # the usual end: nothing to wait for (gathering costs ~3 µs)
            else:  # the chain is closed below: the producer must be out of it first
                producing.cancel()
                await asyncio.gather(producing, return_exceptions=True)
            close = getattr(response.chunks, "aclose", None)
            if close is not None:
                await close()


def _discard(task: asyncio.Future[None]) -> None:
    """Cancel a task no one waits for; an error it ended with is retrieved (the stream already
    ended with an error event), so it is not reported again as never retrieved."""
    if not task.done():
        task.cancel()
    elif not task.cancelled():
        task.exception()
