"""The connection protocol's writes, driven with raw HTTP bytes and a transport that records
what it is given: a response of known length leaves in one write (head and body together);
a stream's head leaves before its first event; ``connection: close`` still closes."""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.config import Config
from uvicorn.server import ServerState

from unigate.server.protocol import GuardedHttpToolsProtocol

BODY = b'{"ok": true}'


class RecordingTransport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.closed = False
        self.closed_before_lost: bool | None = None

    def write(self, data: Any) -> None:
        self.writes.append(bytes(data))

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 50000), "sockname": ("127.0.0.1", 4000)}.get(name, default)

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


async def whole(scope: Any, receive: Any, send: Any) -> None:
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(BODY)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": BODY})


async def streamed(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/event-stream")]})
    await asyncio.sleep(0)
    await send({"type": "http.response.body", "body": b"data: 1\n\n", "more_body": True})
    await send({"type": "http.response.body", "body": b"", "more_body": False})


async def serve(app: Any, request: bytes) -> RecordingTransport:
    config = Config(app=app, lifespan="off", proxy_headers=False)
    protocol = GuardedHttpToolsProtocol(config, ServerState(), {})
    transport = RecordingTransport()
    protocol.connection_made(transport)
    protocol.data_received(request)
    for _ in range(20):  # the request's task runs on the next turns
        await asyncio.sleep(0)
    transport.closed_before_lost = transport.closed
    protocol.connection_lost(None)  # cancels the keep-alive timer
    return transport


def request(connection: bytes = b"keep-alive") -> bytes:
    return b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: " + connection + b"\r\n\r\n"


def test_a_response_of_known_length_is_one_write():
    transport = asyncio.run(serve(whole, request()))
    assert len(transport.writes) == 1
    (data,) = transport.writes
    assert data.startswith(b"HTTP/1.1 200 OK\r\n")
    assert data.endswith(b"\r\n\r\n" + BODY)
    assert b"content-length: 12\r\n" in data.lower()
    assert transport.closed_before_lost is False


def test_connection_close_is_honoured_after_the_single_write():
    transport = asyncio.run(serve(whole, request(b"close")))
    assert len(transport.writes) == 1
    assert transport.writes[0].endswith(BODY)
    assert transport.closed_before_lost is True


def test_a_stream_sends_its_head_before_its_first_event():
    transport = asyncio.run(serve(streamed, request()))
    assert transport.writes[0].startswith(b"HTTP/1.1 200 OK\r\n")
    assert transport.writes[0].endswith(b"\r\n\r\n")  # the head alone
    assert b"data: 1" in b"".join(transport.writes[1:])
