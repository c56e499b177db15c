"""The ASGI application: routing table, auth, error mapping, streaming with disconnect handling.

Each API surface (openai_api, health, admin, …) registers its routes here; handlers get a
:class:`Request` whose ``principal`` is already authenticated and return a response object.
Every response carries ``x-request-id``; every error is OpenAI-shaped JSON with the right status.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from unigate.errors import GatewayError, NotFound
from unigate.gateway import Gateway, Principal
from unigate.server.auth import Authenticator, MasterKeyAuthenticator
from unigate.server.connections import STATE_KEY as CONNECTION_LIMITS
from unigate.server.connections import ConnectionLimits
from unigate.server.guard import check_request
from unigate.server.http import (
    Handler,
    Receive,
    Request,
    Response,
    Scope,
    Send,
    StreamingResponse,
    error_response,
    read_body,
)
from unigate.types import new_request_id

log = logging.getLogger("unigate.server")

# A handler that needs the caller gets it as a second argument.
AuthedHandler = Callable[[Request, Principal], Awaitable[Response | StreamingResponse]]
Lifecycle = Callable[[], Awaitable[None]]
# Renders an error in a surface's own shape (OpenAI's by default): (error, request id) → response.
ErrorRenderer = Callable[[GatewayError, str], Response]


def openai_error(error: GatewayError, request_id: str) -> Response:
    return error_response(error)


@dataclass(slots=True)
class Route:
    handler: Any
    public: bool  # no authentication (health probes, static UI assets)
    prefix: bool = False
    errors: ErrorRenderer = openai_error
    max_body: int | None = None  # this route's body limit (uploads), else server.max_body_bytes


class App:
    def __init__(self, gateway: Gateway, authenticator: Authenticator | None = None) -> None:
        self.gateway = gateway
        self.config = gateway.config
        self.authenticator: Authenticator = authenticator or MasterKeyAuthenticator(self.config.server.master_key)
        self.max_body = self.config.server.max_body_bytes
        self.body_timeout = self.config.server.body_timeout
        # no master key: loopback only, and requests addressed to other hosts are refused (guard.py)
        self.loopback_mode = not self.config.server.master_key
        self.trusted_origins = frozenset(o.rstrip("/").lower() for o in self.config.server.cors_origins)
        self._exact: dict[tuple[str, str], Route] = {}
        self._prefix: list[tuple[str, str, Route]] = []
        self.on_startup: list[Lifecycle] = []
        self.on_shutdown: list[Lifecycle] = []
        self.background: list[asyncio.Task[None]] = []  # start-up work that must not delay readiness
        self.ready = False

    # -- registration ----------------------------------------------------------------------

    def route(
        self,
        method: str,
        path: str,
        handler: Handler | AuthedHandler,
        *,
        public: bool = False,
        errors: ErrorRenderer = openai_error,
        max_body: int | None = None,
    ) -> None:
        """Register ``handler`` for ``method path``; a path ending in ``/*`` matches a prefix and the
        rest of the path is in ``request.path_params["rest"]``. ``errors`` renders every error of
        the route — body limits, auth, validation, an unexpected exception — in its surface's shape."""
        if path.endswith("/*"):
            route = Route(handler, public, prefix=True, errors=errors, max_body=max_body)
            self._prefix.append((method, path[:-1], route))
            self._prefix.sort(key=lambda item: -len(item[1]))
        else:
            self._exact[(method, path)] = Route(handler, public, errors=errors, max_body=max_body)

    def resolve(self, method: str, path: str, request: Request) -> Route:
        """The route serving ``method path`` (an alias path handing over to another route)."""
        return self._match(method, path, request)

    def _match(self, method: str, path: str, request: Request) -> Route:
        route = self._exact.get((method, path))
        if route is not None:
            return route
        if len(path) > 1 and path.endswith("/"):
            route = self._exact.get((method, path.rstrip("/")))
            if route is not None:
                return route
        for route_method, prefix, candidate in self._prefix:
            if route_method == method and path.startswith(prefix):
                request.path_params["rest"] = path[len(prefix) :]
                return candidate
        if any(p == path for (_, p) in self._exact):
            raise _MethodNotAllowed(f"Method {method} is not allowed on {path}.")
        raise NotFound(f"Unknown endpoint: {method} {path}", code="unknown_url")

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
            route = self._match(method, path, request)
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
        await self.gateway.start()
        for step in self.on_startup:
            await step()
        # Everything loaded so far (config, catalog, price tables, routers) lives as long as the
        # process: keep it out of the cyclic collector's full passes, which otherwise walk it
        # every few thousand requests and show up as tail-latency spikes.
        gc.collect()
        gc.freeze()
        self.ready = True

    async def shutdown(self) -> None:
        self.ready = False
        for task in self.background:
            task.cancel()
        await asyncio.gather(*self.background, return_exceptions=True)
        for step in reversed(self.on_shutdown):
            try:
                await step()
            except Exception:
                log.exception("shutdown step failed")
        await self.gateway.aclose()

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        request_id = new_request_id()
        id_header = (b"x-request-id", request_id.encode())
        request = Request(scope, receive)
        request.path_params["request_id"] = request_id
        route: Route | None = None
        try:
            route = self._match(scope["method"], scope["path"], request)
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
            for task in (producing, watching):
                if not task.done():
                    task.cancel()
            await asyncio.gather(producing, watching, return_exceptions=True)
            close = getattr(response.chunks, "aclose", None)
            if close is not None:
                await close()


class _MethodNotAllowed(GatewayError):
    status = 405
    error_type = "invalid_request_error"
    default_code = "method_not_allowed"
