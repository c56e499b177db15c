"""The framing between the state host (``unigate serve --workers N``'s parent) and its workers.

A frame is a 4-byte big-endian length and a ``marshal``-encoded tuple. ``marshal`` because the
messages are only tuples of str, bytes, int, float, bool and None (ledger records are bytes,
which JSON cannot carry without re-encoding) and it is the fastest codec in the standard
library. It is not meant for untrusted input: the socket lives in an owner-only directory, so
only the gateway's own user (who could read the journal anyway) can connect.

Messages: a request ``(id, op, args)``, its reply ``(id, ok, result)`` (``ok`` false: result is
the error text), and a push from the host ``(0, topic, payload)``.
"""

from __future__ import annotations

import marshal
import struct
from typing import Any

from unigate.state.circuits import BreakerPolicy, Circuit

SOCKET_ENV = "UNIGATE_STATE_SOCKET"  # where a worker of `unigate serve --workers N` finds its host
HEADER = struct.Struct("!I")
MAX_FRAME = 64 * 1024 * 1024  # a queue batch of large ledger records fits; a corrupt length does not


def frame(message: tuple[Any, ...]) -> bytes:
    body = marshal.dumps(message)
    return HEADER.pack(len(body)) + body


class FrameReader:
    """Splits a byte stream into messages (a frame may arrive in pieces, or many in one read)."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[Any]:
        buffer = self._buffer
        buffer += data
        messages: list[Any] = []
        position = 0
        size = len(buffer)
        while size - position >= 4:
            (length,) = HEADER.unpack_from(buffer, position)
            if length > MAX_FRAME:
                raise ValueError(f"state frame of {length} bytes")
            end = position + 4 + length
            if end > size:
                break
            messages.append(marshal.loads(bytes(buffer[position + 4 : end])))
            position = end
        if position:
            del buffer[:position]
        return messages


def circuit_tuple(circuit: Circuit | None) -> tuple[Any, ...] | None:
    if circuit is None:
        return None
    return (
        circuit.failures,
        circuit.trips,
        circuit.open_until,
        circuit.probe_until,
        circuit.last_error,
        circuit.changed_at,
    )


def policy_tuple(policy: BreakerPolicy) -> tuple[Any, ...]:
    return (policy.allowed_fails, policy.cooldown, policy.max_cooldown, policy.probe_timeout, policy.failing_after)
