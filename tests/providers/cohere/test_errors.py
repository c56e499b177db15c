"""cohere: upstream errors → the error tree.

Cohere v2 chat translation checked against recorded real traffic, plus a real-HTTP replay upstream.

The recordings hold non-streamed chats (plain, system prompt, reasoning model with thinking in
the history). Streaming, tool calls and errors have no recording: they are checked against the
event and body shapes of Cohere's v2 API reference ("Chat with Streaming", "Errors").
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from tests.providers.cohere.support import TEXT_STREAM
from unigate.errors import (
    ContextWindowExceeded,
    ProviderError,
    UpstreamConnectionError,
    UpstreamRateLimited,
    UpstreamServerError,
)
from unigate.providers.cohere import StreamTranslator, parse_error


def test_stream_errors() -> None:
    translator = StreamTranslator("command")
    translator.feed("message-start", orjson.dumps(TEXT_STREAM[0]))
    assert translator.feed(None, b"[DONE]") == []
    with pytest.raises(UpstreamConnectionError):
        translator.close()
    failed = {"type": "message-end", "delta": {"finish_reason": "ERROR", "error": "internal failure"}}
    with pytest.raises(UpstreamServerError, match="internal failure"):
        translator.feed("message-end", orjson.dumps(failed))


@pytest.mark.parametrize(
    ("status", "body", "headers", "expected", "http_status"),
    [
        (
            429,
            {"message": "You are using a Trial key, which is limited to 10 API calls / minute."},
            {"retry-after": "3"},
            UpstreamRateLimited,
            429,
        ),
        (
            400,
            {"message": "too many tokens: size limit exceeded by 1200 tokens. Try using shorter inputs."},
            {},
            ContextWindowExceeded,
            400,
        ),
        (
            400,
            {"id": "e1", "message": "invalid request: message must be at least 1 token long"},
            {},
            ProviderError,
            400,
        ),
        (401, {"message": "invalid api token"}, {}, ProviderError, 502),
        (498, {"message": "invalid api token"}, {}, ProviderError, 502),
        (500, {"message": "internal server error"}, {}, UpstreamServerError, 502),
        (503, {"message": "service unavailable"}, {}, UpstreamServerError, 502),
    ],
)
def test_error_mapping(
    status: int, body: dict[str, Any], headers: dict[str, str], expected: type, http_status: int
) -> None:
    error = parse_error(status, orjson.dumps(body), headers)
    assert type(error) is expected
    assert error.provider == "cohere" and error.http_status == http_status
    assert body["message"] in error.message
    if headers:
        assert error.retry_after == 3.0
