"""The provider shell's upstream client (pyreqwest) against real servers on loopback: pooling,
timeouts per phase, streaming backpressure and cancellation, TLS with a private CA, HTTP proxies
from the environment, and how its failures map into the error tree."""

from __future__ import annotations

import asyncio
import datetime
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from unigate.errors import UpstreamConnectionError, UpstreamTimeout
from unigate.providers.shell import transport_error
from unigate.providers.upstream import Upstream
from unigate.types import Timeouts

FAST = Timeouts(connect=2.0, first_token=0.3, total=10.0)
OK = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}"
STREAM_HEAD = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


def chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


@dataclass
class Server:
    """A raw HTTP/1.1 server: counts connections and requests, records request lines, and knows
    when the client dropped a connection it was still writing to."""

    handler: Handler
    connections: int = 0
    lines: list[bytes] = field(default_factory=list)
    dropped: asyncio.Event = field(default_factory=asyncio.Event)
    port: int = 0

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                self.lines.append(head.split(b"\r\n", 1)[0])
                length = next(
                    (
                        int(line.split(b":")[1])
                        for line in head.lower().split(b"\r\n")
                        if line.startswith(b"content-length")
                    ),
                    0,
                )
                await reader.readexactly(length)
                await self.handler(reader, writer)
        except (asyncio.IncompleteReadError, ConnectionError):
            self.dropped.set()
        finally:
            writer.close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1/x"


@pytest.fixture
async def serve() -> AsyncIterator[Callable[..., Awaitable[Server]]]:
    servers: list[asyncio.Server] = []

    async def start(handler: Handler, tls: ssl.SSLContext | None = None) -> Server:
        server = Server(handler)
        listener = await asyncio.start_server(server.serve, "127.0.0.1", 0, ssl=tls)
        server.port = listener.sockets[0].getsockname()[1]
        servers.append(listener)
        return server

    yield start
    for listener in servers:
        listener.close()


@pytest.fixture
async def client() -> AsyncIterator[Upstream]:
    upstream = Upstream()
    yield upstream
    await upstream.close()


async def answer_ok(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(OK)
    await writer.drain()


# ---------------------------------------------------------------------------------------------
# Pooling


async def test_requests_reuse_pooled_connections(serve, client):
    server = await serve(answer_ok)
    for _ in range(3):
        status, headers, body = await client.fetch(server.url, b"{}", {"content-type": "application/json"}, FAST)
        assert (status, headers.get("Content-Type"), body) == (200, "application/json", b"{}")
    async with client.open(server.url, b"{}", {}, FAST) as resp:
        assert await resp.read() == b"{}"
    async with client.open(server.url, b"{}", {}, FAST) as resp:
        assert [piece async for piece in resp.chunks()] == [b"{}"]
    # whole replies and streams differ in read timeout, a client setting: one pool each
    assert server.connections == 2


# ---------------------------------------------------------------------------------------------
# Timeouts per phase


async def test_no_answer_within_first_token_times_a_stream_out(serve, client):
    async def silent(reader, writer):
        await asyncio.sleep(30)

    server = await serve(silent)
    with pytest.raises(TimeoutError) as caught:
        async with client.open(server.url, b"{}", {}, FAST):
            pass
    assert isinstance(transport_error("p", caught.value), UpstreamTimeout)


async def test_a_stream_that_stalls_between_chunks_times_out(serve, client):
    async def stall(reader, writer):
        writer.write(STREAM_HEAD + chunk(b"data: 1\n\n"))
        await writer.drain()
        await asyncio.sleep(30)

    server = await serve(stall)
    async with client.open(server.url, b"{}", {}, FAST) as resp:
        pieces = resp.chunks()
        assert await anext(pieces) == b"data: 1\n\n"
        with pytest.raises(TimeoutError):
            await anext(pieces)


async def test_a_whole_reply_may_take_longer_than_first_token(serve, client):
    # most providers send nothing until the answer is complete: a long generation is not a stall
    async def slow(reader, writer):
        await asyncio.sleep(FAST.first_token * 3)
        await answer_ok(reader, writer)

    server = await serve(slow)
    status, _, body = await client.fetch(server.url, b"{}", {}, FAST)
    assert (status, body) == (200, b"{}")


async def test_total_bounds_a_whole_reply(serve, client):
    async def slow(reader, writer):
        await asyncio.sleep(30)

    server = await serve(slow)
    with pytest.raises(TimeoutError):
        await client.fetch(server.url, b"{}", {}, Timeouts(connect=2.0, first_token=10.0, total=0.3))


async def test_connect_timeout_bounds_a_connection_that_is_never_accepted(client):
    # a listener whose accept queue is full: the kernel drops further SYNs, connect() hangs
    import socket

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    try:
        for _ in range(4):
            filler = socket.socket()
            filler.setblocking(False)
            filler.connect_ex(("127.0.0.1", port))
            fillers.append(filler)
        with pytest.raises(TimeoutError):
            await client.fetch(
                f"http://127.0.0.1:{port}/x", b"{}", {}, Timeouts(connect=0.3, first_token=10.0, total=10.0)
            )
    finally:
        for sock in (*fillers, listener):
            sock.close()


# ---------------------------------------------------------------------------------------------
# Streaming: backpressure and cancellation


def endless(written: list[int]) -> Handler:
    async def handler(reader, writer):
        writer.write(STREAM_HEAD)
        piece = chunk(b"data: " + b"x" * 16_000 + b"\n\n")
        while True:
            writer.write(piece)
            await writer.drain()  # blocks while the client does not read
            written[0] += len(piece)

    return handler


async def test_a_slow_reader_holds_the_upstream_back(serve, client):
    written = [0]
    server = await serve(endless(written))
    async with client.open(server.url, b"{}", {}, Timeouts(connect=2.0, first_token=30.0, total=60.0)) as resp:
        pieces = resp.chunks()
        await anext(pieces)
        await asyncio.sleep(0.5)  # the client reads nothing meanwhile
        held = written[0]
        await asyncio.sleep(0.5)
        # the upstream was stopped by full buffers, not by running out: it wrote nothing more
        assert written[0] == held
        assert held < 64 * 1024 * 1024
        for _ in range(100):
            await anext(pieces)  # and it goes on when the client reads again
    assert written[0] > held


async def test_cancelling_the_reader_closes_the_upstream_connection(serve, client):
    written = [0]
    server = await serve(endless(written))

    async def consume() -> None:
        async with client.open(server.url, b"{}", {}, FAST) as resp:
            async for _ in resp.chunks():
                await asyncio.sleep(0.001)

    task = asyncio.create_task(consume())
    while written[0] == 0:
        await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.wait_for(server.dropped.wait(), 10)


async def test_an_unfinished_stream_is_not_pooled_and_a_finished_one_is(serve, client):
    requests = [0]

    async def events(reader, writer):
        requests[0] += 1
        if requests[0] == 2:  # the stream the client leaves early: one event, then nothing
            writer.write(STREAM_HEAD + chunk(b"data: 1\n\n"))
            await writer.drain()
            if await reader.read(1) == b"":  # the client closed the connection
                raise ConnectionResetError
        writer.write(STREAM_HEAD + chunk(b"data: 1\n\n") + chunk(b"data: 2\n\n") + b"0\r\n\r\n")
        await writer.drain()

    server = await serve(events)
    async with client.open(server.url, b"{}", {}, FAST) as resp:
        assert b"".join([piece async for piece in resp.chunks()]) == b"data: 1\n\ndata: 2\n\n"
    async with client.open(server.url, b"{}", {}, FAST) as resp:
        assert await anext(resp.chunks()) == b"data: 1\n\n"
    await asyncio.wait_for(server.dropped.wait(), 10)
    async with client.open(server.url, b"{}", {}, FAST) as resp:
        await resp.read()
    # the finished stream's connection served the second one; the abandoned one was not reused
    assert server.connections == 2


# ---------------------------------------------------------------------------------------------
# TLS and proxies


def _certificates(tmp: Path) -> tuple[Path, Path, Path]:
    """A private CA and a certificate it signed for 127.0.0.1: (ca.pem, cert.pem, key.pem)."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "unigate test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(1)
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    import ipaddress

    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(2)
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    paths = tmp / "ca.pem", tmp / "cert.pem", tmp / "key.pem"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return paths


async def test_tls_is_verified_and_a_private_ca_is_trusted_through_ssl_cert_file(serve, tmp_path, monkeypatch):
    ca, cert, key = _certificates(tmp_path)
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(cert, key)
    server = await serve(answer_ok, tls=tls)
    url = f"https://127.0.0.1:{server.port}/v1/x"
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    untrusting = Upstream()
    try:
        with pytest.raises(Exception) as refused:
            await untrusting.fetch(url, b"{}", {}, FAST)
        error = transport_error("p", refused.value)
        assert isinstance(error, UpstreamConnectionError) and "certificate" in error.message.lower()
        assert server.lines == []  # nothing was sent over an unverified connection
    finally:
        await untrusting.close()
    monkeypatch.setenv("SSL_CERT_FILE", str(ca))
    trusting = Upstream()
    try:
        assert (await trusting.fetch(url, b"{}", {}, FAST))[0] == 200
    finally:
        await trusting.close()


async def test_an_http_proxy_from_the_environment_carries_the_requests(serve, monkeypatch):
    proxy = await serve(answer_ok)
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{proxy.port}")
    proxied = Upstream()
    try:
        status, _, _ = await proxied.fetch("http://provider.example/v1/chat/completions", b"{}", {}, FAST)
    finally:
        await proxied.close()
    assert status == 200
    assert proxy.lines == [b"POST http://provider.example/v1/chat/completions HTTP/1.1"]


# ---------------------------------------------------------------------------------------------
# Failures into the tree


async def test_a_refused_connection_is_unreachable(client):
    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(Exception) as caught:
        await client.fetch(f"http://127.0.0.1:{port}/x", b"{}", {}, FAST)
    error = transport_error("p", caught.value)
    assert isinstance(error, UpstreamConnectionError) and "unreachable" in error.message


async def test_a_body_cut_short_is_a_closed_connection(serve, client):
    async def cut(reader, writer):
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n{")
        await writer.drain()
        writer.transport.abort()

    server = await serve(cut)
    with pytest.raises(Exception) as caught:
        await client.fetch(server.url, b"{}", {}, FAST)
    error = transport_error("p", caught.value)
    assert isinstance(error, UpstreamConnectionError) and "closed the connection" in error.message
