"""The upstream HTTP client of the provider shell: pyreqwest (Rust reqwest/hyper with rustls).

Chosen by measurement (benchmarks/README.md, "Upstream HTTP client"): on one core the same
gateway serves ~2x the requests/s with it than with aiohttp's client, whose per-request Python
work was the ceiling. What it keeps, each checked in tests/providers/test_upstream.py:

- **pooling**: one keep-alive pool per client, idle connections closed after 60 s;
- **timeouts per phase**: ``connect`` and, for streams, ``first_token`` as the read timeout
  (waiting for the headers and between chunks, so it is also the stall detector) are client
  settings in reqwest, hence one client per timeout profile (deployments rarely have more than a
  few); ``total`` is set per request. Whole replies have no read timeout: most providers send
  nothing until the answer is complete, and a long generation is not a stall;
- **streaming with backpressure**: chunks are handed over as they arrive and pulled one
  ``read_chunk`` at a time (no read-ahead), so a slow client holds the upstream back; leaving the ``open`` block before the body is
  finished (client gone, cancelled task, error) drops the connection instead of pooling it;
- **TLS**: certificates are verified against the system store; ``SSL_CERT_FILE`` /
  ``SSL_CERT_DIR`` name another (a private CA);
- **its I/O thread** yields to a busy event loop (:mod:`unigate.threads`);
- **proxies**: ``HTTP_PROXY`` / ``HTTPS_PROXY`` / ``ALL_PROXY`` / ``NO_PROXY`` from the environment.

URLs are parsed by the WHATWG rules, which resolve ``%2E%2E`` segments like ``..``: that is why
:func:`unigate.providers.shell.segment` refuses ``.`` and ``..`` instead of encoding them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import timedelta

from pyreqwest.client import Client, ClientBuilder
from pyreqwest.exceptions import BodyDecodeError, ConnectError, NetworkError, RequestError
from pyreqwest.request import StreamRequest
from pyreqwest.response import Response

from unigate.threads import BUSY_HELPERS, threads_named
from unigate.types import Timeouts

_IDLE = timedelta(seconds=60)
_READ_AHEAD = 1  # bytes: hand each chunk over as it arrives
_RUNTIME_THREAD = "pyreqwest"  # the clients' I/O thread: a batch thread while busy (unigate/threads.py)


class Streamed:
    """An open upstream response: ``status`` and ``headers`` (case-insensitive) are known, the
    body follows through :meth:`read` (all of it) or :meth:`chunks` (as it arrives).
    :meth:`aclose` returns a finished connection to the pool and drops an unfinished one."""

    __slots__ = ("_request", "_resp", "headers", "status")

    def __init__(self, request: StreamRequest, resp: Response) -> None:
        self._request, self._resp = request, resp
        self.status = resp.status
        self.headers: Mapping[str, str] = resp.headers

    async def read(self) -> bytes:
        return bytes(await self._resp.bytes())

    async def chunks(self) -> AsyncIterator[bytes]:
        reader = self._resp.body_reader
        while (chunk := await reader.read_chunk()) is not None:
            yield bytes(chunk)

    async def aclose(self) -> None:
        await self._request.__aexit__(None, None, None)


class Upstream:
    """Pooled clients, one per (connect, read) timeout profile, built on first use."""

    def __init__(self) -> None:
        self._clients: dict[tuple[float, float | None], Client] = {}

    def _client(self, connect: float, read: float | None) -> Client:
        client = self._clients.get((connect, read))
        if client is None:
            builder = ClientBuilder().connect_timeout(timedelta(seconds=connect)).pool_idle_timeout(_IDLE)
            if read is not None:
                builder = builder.read_timeout(timedelta(seconds=read))
            client = self._clients[(connect, read)] = builder.build()
            BUSY_HELPERS.attach(threads_named(_RUNTIME_THREAD))  # it exists once a client is built
        return client

    async def fetch(
        self, url: str, body: bytes, headers: Mapping[str, str], timeouts: Timeouts
    ) -> tuple[int, Mapping[str, str], bytes]:
        """POST and read the whole answer: ``(status, headers, body)``."""
        request = self._client(timeouts.connect, None).post(url).headers(headers).body_bytes(body)
        resp = await request.timeout(timedelta(seconds=timeouts.total)).build().send()
        return resp.status, resp.headers, bytes(await resp.bytes())

    async def start(self, url: str, body: bytes, headers: Mapping[str, str], timeouts: Timeouts) -> Streamed:
        """POST and return the response once its headers are in; the caller reads the body as it
        arrives and must :meth:`Streamed.aclose` it."""
        request = self._client(timeouts.connect, timeouts.first_token).post(url).headers(headers)
        request = request.body_bytes(body).timeout(timedelta(seconds=timeouts.total))
        # Without a small read-ahead limit, entering the response waits until 64 KiB of body are
        # buffered (or the body ends): a stream's first token would wait for its last.
        streamed = request.streamed_read_buffer_limit(_READ_AHEAD).build_streamed()
        return Streamed(streamed, await streamed.__aenter__())

    @asynccontextmanager
    async def open(
        self, url: str, body: bytes, headers: Mapping[str, str], timeouts: Timeouts
    ) -> AsyncIterator[Streamed]:
        """:meth:`start` as a block that closes the response however it is left."""
        resp = await self.start(url, body, headers, timeouts)
        try:
            yield resp
        finally:
            await resp.aclose()

    async def close(self) -> None:
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            await client.close()


def failure(exc: BaseException) -> tuple[str, str] | None:
    """A client error as ``(kind, text)``: kind ``"unreachable"`` (no connection was made),
    ``"closed"`` (the upstream broke the connection or the body mid-answer) or ``"failed"``;
    ``None`` for anything that is not this client's. Timeouts are ``TimeoutError`` s."""
    if not isinstance(exc, RequestError):
        return None
    causes = exc.details.get("causes") or []
    text = f"{exc.message}: {causes[-1]['message']}" if causes else exc.message
    if isinstance(exc, ConnectError):
        return "unreachable", text
    if isinstance(exc, NetworkError | BodyDecodeError):
        return "closed", text
    return "failed", text
