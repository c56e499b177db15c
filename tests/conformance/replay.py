"""A replay upstream for tests that drive a gateway *subprocess*: a real aiohttp server on
127.0.0.1 in its own thread (so the blocking SDK clients and the gateway can both reach it).

``upstream.serve(*responses)`` queues recorded responses (a cassette interaction's ``response``
dict: status, headers, ``parsed_body`` / ``body.string``); each request gets the next one, and
the last is repeated if the gateway asks again (a retry). SSE bodies are written event by event,
binary bodies (Bedrock event streams) as they are. Every request is kept in ``received``.
"""

from __future__ import annotations

import asyncio
import json
import threading
from dataclasses import dataclass
from typing import Any

from aiohttp import web

# Response headers that describe the original transfer, not the content; aiohttp sets its own.
_HOP_HEADERS = frozenset({"content-length", "transfer-encoding", "content-encoding", "connection"})


@dataclass
class Received:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def _text(value: Any) -> str:
    return value.decode("latin-1") if isinstance(value, bytes) else str(value)


def _headers(response: dict[str, Any]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for name, values in (response.get("headers") or {}).items():
        if name.lower() in _HOP_HEADERS:
            continue
        value = values[0] if isinstance(values, list) else values
        headers[name] = _text(value)
    return headers


async def write_response(request: web.Request, response: dict[str, Any]) -> web.StreamResponse:
    status = int(response["status"]["code"])
    headers = _headers(response)
    if "parsed_body" in response:
        headers = {k: v for k, v in headers.items() if k.lower() != "content-type"}
        headers["content-type"] = "application/json"
        return web.Response(status=status, body=json.dumps(response["parsed_body"]), headers=headers)
    body = response.get("body")
    text = body.get("string", "") if isinstance(body, dict) else (body or "")
    raw = text if isinstance(text, bytes) else text.encode()
    content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
    if "text/event-stream" not in content_type:
        return web.Response(status=status, body=raw, headers=headers)
    stream = web.StreamResponse(status=status, headers=headers)
    await stream.prepare(request)
    for chunk in raw.replace(b"\r\n", b"\n").split(b"\n\n"):
        if chunk.strip():
            await stream.write(chunk + b"\n\n")
    await stream.write_eof()
    return stream


class ReplayUpstream:
    def __init__(self) -> None:
        self.received: list[Received] = []
        self._queue: list[dict[str, Any]] = []
        self._last: dict[str, Any] | None = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._runner: web.AppRunner | None = None
        self.port = asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def serve(self, *responses: dict[str, Any]) -> None:
        """Forget what was received and answer the next requests with ``responses``."""
        self.received = []
        self._queue = list(responses)
        self._last = None

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.received.append(
            Received(
                request.method,
                request.path,
                request.query_string,
                {k.lower(): v for k, v in request.headers.items()},
                await request.read(),
            )
        )
        if self._queue:
            self._last = self._queue.pop(0)
        if self._last is None:
            return web.json_response({"error": "replay upstream: nothing to replay"}, status=599)
        return await write_response(request, self._last)

    async def _start(self) -> int:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        return int(self._runner.addresses[0][1])

    def stop(self) -> None:
        async def shutdown() -> None:
            if self._runner is not None:
                await self._runner.cleanup()

        asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
