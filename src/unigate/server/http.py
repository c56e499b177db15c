"""Minimal ASGI request/response primitives for the hot path.

A framework's routing, middleware stack and request objects cost more per request than the
whole gateway is allowed to add, so the server speaks ASGI directly with these few types.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import orjson

from unigate.errors import BadRequest, GatewayError, PayloadTooLarge

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

JSON_HEADERS = [(b"content-type", b"application/json")]


class Request:
    __slots__ = ("_headers", "body", "path_params", "receive", "scope")

    def __init__(self, scope: Scope, receive: Receive, body: bytes = b"") -> None:
        self.scope = scope
        self.receive = receive
        self.body = body
        self.path_params: dict[str, str] = {}
        self._headers: dict[str, str] | None = None

    @property
    def method(self) -> str:
        return self.scope["method"]

    @property
    def path(self) -> str:
        return self.scope["path"]

    @property
    def headers(self) -> dict[str, str]:
        if self._headers is None:
            self._headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in self.scope["headers"]}
        return self._headers

    def header(self, name: bytes) -> bytes | None:
        """One raw header by lowercase name, without building the dict (hot path)."""
        for key, value in self.scope["headers"]:
            if key == name:
                return value
        return None

    @property
    def query(self) -> dict[str, str]:
        return dict(parse_qsl(self.scope.get("query_string", b"").decode()))


class BodyTimeout(BadRequest):
    status = 408
    default_code = "request_timeout"


async def read_body(receive: Receive, limit: int, timeout: float | None = None) -> bytes:
    """Read the whole request body, refusing (413) past ``limit`` bytes without buffering the rest
    and (408) when it takes longer than ``timeout`` seconds: a client sending a byte a second
    must not hold a connection and a task for minutes."""
    try:
        async with asyncio.timeout(timeout):
            return await _read_body(receive, limit)
    except TimeoutError:
        raise BodyTimeout(
            f"The request body was not received within {timeout:g} seconds.", headers={"connection": "close"}
        ) from None


async def _read_body(receive: Receive, limit: int) -> bytes:
    message = await receive()
    body: bytes = message.get("body", b"")
    if not message.get("more_body"):
        if len(body) > limit:
            raise PayloadTooLarge(f"Request body is larger than the limit of {limit} bytes.")
        return body
    parts = [body]
    size = len(body)
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"Request body is larger than the limit of {limit} bytes.")
        parts.append(chunk)
        if not message.get("more_body"):
            break
    return b"".join(parts)


@dataclass(slots=True)
class Response:
    body: bytes = b""
    status: int = 200
    headers: list[tuple[bytes, bytes]] = field(default_factory=lambda: list(JSON_HEADERS))

    async def send_to(self, send: Send, extra_headers: list[tuple[bytes, bytes]]) -> None:
        # a known length spares the server chunked framing and its extra terminating write
        length = (b"content-length", str(len(self.body)).encode())
        await send(
            {"type": "http.response.start", "status": self.status, "headers": [*self.headers, *extra_headers, length]}
        )
        await send({"type": "http.response.body", "body": self.body})


def json_response(data: Any, status: int = 200, headers: list[tuple[bytes, bytes]] | None = None) -> Response:
    return Response(orjson.dumps(data), status, [*JSON_HEADERS, *(headers or ())])


def error_response(error: GatewayError) -> Response:
    headers = [(k.encode(), v.encode()) for k, v in error.response_headers().items()]
    return Response(error.to_json(), error.http_status, [*JSON_HEADERS, *headers])


@dataclass(slots=True)
class StreamingResponse:
    """A body produced by an async iterator of byte strings (SSE). ``on_disconnect`` runs if the
    client goes away first; the iterator is closed either way."""

    chunks: AsyncIterator[bytes]
    status: int = 200
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)


Handler = Callable[[Request], Awaitable[Response | StreamingResponse]]

PRIVACY_HEADER = b"x-unigate-privacy"


def merge_route_headers(request: Request, body: dict[str, Any]) -> None:
    """Routing hints sent as headers become part of the request's ``route`` object, the one place
    routing reads per-request preferences (a header wins only where the body says nothing)."""
    privacy = request.header(PRIVACY_HEADER)
    if privacy is None:
        return
    route = body.get("route")
    if route is None:
        route = body["route"] = {}
    if isinstance(route, dict):
        route.setdefault("privacy", privacy.decode("latin-1").strip())
