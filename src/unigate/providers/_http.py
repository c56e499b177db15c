"""HTTP helpers every HTTP provider shares: one pooled aiohttp session, timeouts per deployment,
transport failures mapped to the error tree in one place, and a fast SSE reader."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from functools import lru_cache
from typing import Any

import aiohttp
import orjson

from unigate.errors import (
    GatewayError,
    ProviderError,
    UpstreamConnectionError,
    UpstreamServerError,
    UpstreamTimeout,
)
from unigate.types import Timeouts

ErrorParser = Callable[[int, bytes, Any], ProviderError]


@lru_cache(maxsize=256)
def client_timeout(timeouts: Timeouts, stream: bool = False) -> aiohttp.ClientTimeout:
    """Streams: ``first_token`` bounds every read, so it is also the stall detector between chunks.
    Whole replies: most providers send nothing until the answer is complete, so only ``total``
    bounds them (a long generation must not be mistaken for a stall)."""
    return aiohttp.ClientTimeout(
        total=timeouts.total, connect=timeouts.connect, sock_read=timeouts.first_token if stream else None
    )


def new_session() -> aiohttp.ClientSession:
    connector = aiohttp.TCPConnector(limit=0, ttl_dns_cache=300, keepalive_timeout=60)
    return aiohttp.ClientSession(
        connector=connector,
        json_serialize=lambda obj: orjson.dumps(obj).decode(),
        auto_decompress=True,
        skip_auto_headers=("User-Agent",),
    )


def transport_error(provider: str, exc: BaseException) -> GatewayError:
    """Map a transport-level failure (no HTTP status) into the tree."""
    if isinstance(exc, GatewayError):
        return exc
    if isinstance(exc, asyncio.TimeoutError | aiohttp.ServerTimeoutError):
        return UpstreamTimeout(f"{provider}: upstream timed out", provider=provider)
    if isinstance(exc, aiohttp.ClientPayloadError | aiohttp.ServerDisconnectedError):
        return UpstreamConnectionError(f"{provider}: upstream closed the connection: {exc}", provider=provider)
    if isinstance(exc, aiohttp.ClientError | OSError):
        return UpstreamConnectionError(f"{provider}: upstream unreachable: {exc}", provider=provider)
    return UpstreamConnectionError(f"{provider}: {type(exc).__name__}: {exc}", provider=provider)


async def post_json(
    http: aiohttp.ClientSession,
    url: str,
    body: bytes,
    headers: dict[str, str],
    timeouts: Timeouts,
    provider: str,
    parse_error: ErrorParser,
) -> Any:
    """POST a JSON body, return the parsed JSON reply; non-2xx → ``parse_error``."""
    try:
        async with http.post(url, data=body, headers=headers, timeout=client_timeout(timeouts)) as resp:
            raw = await resp.read()
            status = resp.status
            resp_headers = resp.headers
    except Exception as exc:
        raise transport_error(provider, exc) from exc
    if status >= 400:
        raise parse_error(status, raw, resp_headers)
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise UpstreamServerError(
            f"{provider}: upstream returned malformed JSON", provider=provider, status=502, raw=raw[:2000]
        ) from exc


@asynccontextmanager
async def open_stream(
    http: aiohttp.ClientSession,
    url: str,
    body: bytes,
    headers: dict[str, str],
    timeouts: Timeouts,
    provider: str,
    parse_error: ErrorParser,
) -> AsyncIterator[aiohttp.ClientResponse]:
    """POST and hold the response open for streaming; non-2xx → ``parse_error`` before any yield."""
    try:
        resp = await http.post(url, data=body, headers=headers, timeout=client_timeout(timeouts, stream=True))
    except Exception as exc:
        raise transport_error(provider, exc) from exc
    try:
        if resp.status >= 400:
            try:
                raw = await resp.read()
            except Exception as exc:
                raise transport_error(provider, exc) from exc
            raise parse_error(resp.status, raw, resp.headers)
        yield resp
    except BaseException:
        # an unfinished body (client went away, stall, error) must not go back to the pool
        resp.close()
        raise
    else:
        resp.release()


async def iter_sse(resp: aiohttp.ClientResponse, provider: str) -> AsyncIterator[tuple[str | None, bytes]]:
    """Yield ``(event, data)`` for each server-sent event. Multi-line ``data:`` fields are joined
    with newlines as the SSE spec says; comments and blank keep-alives are skipped."""
    buffer = b""
    try:
        async for piece in resp.content.iter_any():
            buffer += piece
            if b"\r" in buffer:
                buffer = buffer.replace(b"\r\n", b"\n")
            while True:
                end = buffer.find(b"\n\n")
                if end < 0:
                    break
                block, buffer = buffer[:end], buffer[end + 2 :]
                event = _parse_sse_block(block)
                if event is not None:
                    yield event
    except GatewayError:
        raise
    except Exception as exc:
        raise transport_error(provider, exc) from exc
    if buffer.strip():
        event = _parse_sse_block(buffer)
        if event is not None:
            yield event


def _parse_sse_block(block: bytes) -> tuple[str | None, bytes] | None:
    if block.startswith(b"data: ") and b"\n" not in block:  # the common case, one data line
        return None, block[6:]
    event: str | None = None
    data: list[bytes] = []
    for line in block.split(b"\n"):
        if not line or line.startswith(b":"):
            continue
        name, _, value = line.partition(b":")
        if value.startswith(b" "):
            value = value[1:]
        if name == b"data":
            data.append(value)
        elif name == b"event":
            event = value.decode()
    if not data and event is None:
        return None
    return event, b"\n".join(data)


def join_url(base: str, path: str) -> str:
    return base.rstrip("/") + "/" + path.lstrip("/")
