"""Shared fixtures for provider tests: recorded real traffic and a replay upstream.

``load_recording(provider, name)`` reads one VCR cassette from the vendored recordings folder (tests/fixtures).
``replay_server`` is a real aiohttp server on 127.0.0.1 that answers each request with the next
recorded response (status, content-type, retry-after, body; SSE bodies are written event by
event so clients see a genuinely chunked stream) and keeps what it received.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import yaml
from aiohttp import web

from tests.support.paths import RECORDINGS

# Response headers that describe the original transfer, not the content; aiohttp sets its own.
_HOP_HEADERS = frozenset({"content-length", "transfer-encoding", "content-encoding", "connection"})


def load_recording(provider: str, name: str) -> list[dict[str, Any]]:
    """The ``interactions`` of one cassette."""
    with open(RECORDINGS / provider / name, encoding="utf-8") as fh:
        return list(yaml.safe_load(fh)["interactions"])


def recorded_request_body(interaction: dict[str, Any]) -> Any:
    request = interaction["request"]
    if "parsed_body" in request:
        return request["parsed_body"]
    body = request.get("body")
    if isinstance(body, dict):
        body = body.get("string")
    return json.loads(body) if body else None


def recorded_response_body(interaction: dict[str, Any]) -> Any:
    """Parsed JSON for JSON replies, the raw text for SSE / other bodies."""
    response = interaction["response"]
    if "parsed_body" in response:
        return response["parsed_body"]
    body = response.get("body")
    if isinstance(body, dict):
        body = body.get("string")
    return body


@dataclass
class ReceivedRequest:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class ReplayServer:
    """Call it with a cassette's interactions to start a server; returns its base URL."""

    received: list[ReceivedRequest] = field(default_factory=list)
    _runners: list[web.AppRunner] = field(default_factory=list)

    async def __call__(self, interactions: list[dict[str, Any]]) -> str:
        queue = list(interactions)

        async def handle(request: web.Request) -> web.StreamResponse:
            self.received.append(
                ReceivedRequest(
                    request.method,
                    request.path,
                    request.query_string,
                    {k.lower(): v for k, v in request.headers.items()},
                    await request.read(),
                )
            )
            if not queue:
                return web.json_response({"error": "replay server: no more recorded interactions"}, status=599)
            response = queue.pop(0)["response"]
            status = int(response["status"]["code"])
            headers = {
                name: values[0] if isinstance(values, list) else str(values)
                for name, values in (response.get("headers") or {}).items()
                if name.lower() not in _HOP_HEADERS
            }
            if "parsed_body" in response:
                headers["content-type"] = "application/json"
                return web.Response(status=status, body=json.dumps(response["parsed_body"]), headers=headers)
            body = response.get("body")
            text = body.get("string", "") if isinstance(body, dict) else (body or "")
            raw = text if isinstance(text, bytes) else text.encode()
            if "text/event-stream" not in headers.get("content-type", ""):
                return web.Response(status=status, body=raw, headers=headers)
            stream = web.StreamResponse(status=status, headers=headers)
            await stream.prepare(request)
            for event in raw.split(b"\n\n"):
                if event.strip():
                    await stream.write(event + b"\n\n")
            await stream.write_eof()
            return stream

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", handle)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self._runners.append(runner)
        port = runner.addresses[0][1]
        return f"http://127.0.0.1:{port}"

    async def close(self) -> None:
        for runner in self._runners:
            await runner.cleanup()


@pytest.fixture
async def replay_server() -> AsyncIterator[ReplayServer]:
    server = ReplayServer()
    try:
        yield server
    finally:
        await server.close()
