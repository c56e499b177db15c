"""Server-sent events writer for OpenAI-style streams."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import orjson

from unigate.errors import GatewayError
from unigate.types import ChatChunk

log = logging.getLogger("unigate.server")

DONE = b"data: [DONE]\n\n"
SSE_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
]


def encode(chunk: ChatChunk) -> bytes:
    return b"data: " + orjson.dumps(chunk) + b"\n\n"


async def openai_sse(chunks: AsyncIterator[ChatChunk]) -> AsyncIterator[bytes]:
    """Chunks as SSE ending with ``[DONE]``. A failure after the response has started ends the
    stream with an OpenAI-shaped error event (the SDKs raise it as an APIError) and ``[DONE]``."""
    try:
        async for chunk in chunks:
            yield b"data: " + orjson.dumps(chunk) + b"\n\n"
    except GatewayError as exc:
        log.warning("stream ended by upstream failure: %r", exc)
        yield b"data: " + exc.to_json() + b"\n\n"
    except Exception as exc:  # never leave a client with a half-open stream and no reason
        log.exception("stream failed")
        yield (
            b"data: "
            + orjson.dumps(
                {
                    "error": {
                        "message": f"stream failed: {type(exc).__name__}",
                        "type": "api_error",
                        "code": "stream_error",
                        "param": None,
                    }
                }
            )
            + b"\n\n"
        )
    yield DONE
