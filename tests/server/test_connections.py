"""Slow and idle clients against a real ``unigate serve`` with raw sockets: a socket that sends
nothing, headers a byte at a time, a body a byte at a time, and more sockets than the cap.

The limits are set low (1-2 s) and each test only waits (up to 30 s) for the gateway to act;
nothing asserts how long it took."""

from __future__ import annotations

import socket
import time

import httpx
import pytest

from tests.accounts.conftest import priced_model

WAIT = 30.0  # the longest a test waits for the gateway to close or answer


@pytest.fixture
def gateway(start_gateway, upstream):
    server = {"header_timeout": 1.0, "body_timeout": 2.0, "max_connections": 8}
    return start_gateway({"server": server, "models": [priced_model("priced", upstream.base_url)]})


def connect(gateway) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", gateway.port), timeout=WAIT)
    return sock


def closed_by_server(sock: socket.socket, trickle: bytes = b"") -> bytes:
    """Send ``trickle`` a byte every 0.2 s (or nothing) until the server closes; what it sent back."""
    received = b""
    sock.settimeout(0.2 if trickle else WAIT)
    deadline = time.monotonic() + WAIT
    position = 0
    while time.monotonic() < deadline:
        if trickle:
            try:
                sock.sendall(trickle[position % len(trickle) : position % len(trickle) + 1])
            except OSError:
                return received
            position += 1
        try:
            data = sock.recv(65536)
        except TimeoutError:
            continue
        except OSError:
            return received
        if not data:
            return received
        received += data
    raise AssertionError(f"the gateway kept the connection open for {WAIT} s")


def test_an_idle_connection_is_closed(gateway):
    with connect(gateway) as sock:
        assert closed_by_server(sock) == b""


def test_headers_sent_a_byte_at_a_time_are_cut_off(gateway, upstream):
    headers = b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: " + b"a" * 10_000
    with connect(gateway) as sock:
        assert closed_by_server(sock, trickle=headers) == b""
    assert upstream.chat_calls() == []


def test_a_body_sent_a_byte_at_a_time_gets_408_and_a_closed_connection(gateway, upstream):
    body = b'{"model": "priced", "messages": [{"role": "user", "content": "' + b"x" * 500 + b'"}]}'
    head = (
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n"
    )
    with connect(gateway) as sock:
        sock.sendall(head)
        reply = closed_by_server(sock, trickle=body)
    assert reply.startswith(b"HTTP/1.1 408"), reply[:200]
    assert b"request_timeout" in reply
    assert upstream.chat_calls() == []


def test_an_idle_keep_alive_connection_can_still_be_reused_before_its_deadline(gateway):
    """The header deadline starts with each request's first byte, not with the connection."""
    with httpx.Client(base_url=gateway.base_url, timeout=WAIT) as client:
        body = {"model": "priced", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5}
        for _ in range(3):
            assert client.post("/chat/completions", json=body).status_code == 200


def test_connections_past_the_cap_are_closed_at_once(start_gateway, upstream):
    server = {"header_timeout": 60.0, "max_connections": 4}
    gateway = start_gateway({"server": server, "models": [priced_model("priced", upstream.base_url)]})
    held = [connect(gateway) for _ in range(4)]
    try:
        time.sleep(0.5)  # let the server accept them
        with connect(gateway) as extra:
            assert closed_by_server(extra) == b""
    finally:
        for sock in held:
            sock.close()
    time.sleep(0.5)
    assert httpx.get(gateway.url + "/health/live", timeout=WAIT).status_code == 200  # room again
