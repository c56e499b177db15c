"""anthropic: upstream errors → the error tree.

Anthropic translation checked against recorded real traffic, plus a real-HTTP replay upstream.

Each ``Case`` is an OpenAI-format conversation with the same meaning as one recorded exchange
(or a multi-turn run of them, where later turns send back what earlier replies returned, as a
client would). ``to_native`` must produce the recorded request body; the recorded reply must come
back with the recorded text, tool calls, reasoning, finish reason and usage.
"""

from __future__ import annotations

import orjson
import pytest

from tests.providers.anthropic.support import TOOL_STREAM, deployment, error_body
from tests.providers.conftest import load_recording, recorded_request_body, recorded_response_body
from unigate.errors import (
    ContextWindowExceeded,
    ProviderError,
    UpstreamConnectionError,
    UpstreamRateLimited,
    UpstreamServerError,
)
from unigate.providers.anthropic import (
    StreamTranslator,
    parse_error,
    to_native,
)


def test_stream_error_event_raises_classified_error() -> None:
    translator = StreamTranslator("claude")
    translator.feed("message_start", TOOL_STREAM[0][1])
    overloaded = b'{"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}'
    with pytest.raises(UpstreamServerError) as info:
        translator.feed("error", overloaded)
    assert info.value.retryable and "Overloaded" in info.value.message
    too_long = {
        "type": "error",
        "error": {"type": "invalid_request_error", "message": "prompt is too long: 1 > 0"},
    }
    with pytest.raises(ContextWindowExceeded):
        StreamTranslator("claude").feed("error", orjson.dumps(too_long))
    limited = {"type": "error", "error": {"type": "rate_limit_error", "message": "slow down"}}
    with pytest.raises(UpstreamRateLimited):
        StreamTranslator("claude").feed("error", orjson.dumps(limited))


def test_stream_cut_before_finish_is_a_connection_error() -> None:
    translator = StreamTranslator("claude")
    for name, data in TOOL_STREAM[:4]:
        translator.feed(name, data)
    with pytest.raises(UpstreamConnectionError):
        translator.close()


def test_recorded_invalid_request_keeps_status_and_message() -> None:
    interaction = load_recording("anthropic", "test_anthropic_explicit_effort_xhigh_unsupported_model_errors.yaml")[0]
    request = {
        "model": "claude",
        "messages": [{"role": "user", "content": "What is 2+2?"}],
        "reasoning_effort": "xhigh",
    }
    assert to_native(request, deployment("claude-opus-4-6")) == recorded_request_body(interaction)
    raw = orjson.dumps(recorded_response_body(interaction))
    error = parse_error(interaction["response"]["status"]["code"], raw, {})
    assert type(error) is ProviderError
    assert error.upstream_status == 400 and error.http_status == 400 and error.code == "invalid_request_error"
    assert "does not support effort level 'xhigh'" in error.message and not error.retryable


@pytest.mark.parametrize(
    ("status", "kind", "message", "headers", "expected", "http_status"),
    [
        (
            429,
            "rate_limit_error",
            "Number of request tokens has exceeded your per-minute rate limit",
            {"retry-after": "17"},
            UpstreamRateLimited,
            429,
        ),
        (529, "overloaded_error", "Overloaded", {}, UpstreamServerError, 502),
        (500, "api_error", "Internal server error", {}, UpstreamServerError, 502),
        (
            400,
            "invalid_request_error",
            "prompt is too long: 208310 tokens > 200000 maximum",
            {},
            ContextWindowExceeded,
            400,
        ),
        (401, "authentication_error", "invalid x-api-key", {}, ProviderError, 502),
        (403, "permission_error", "Your API key does not have permission", {}, ProviderError, 502),
        (
            413,
            "request_too_large",
            "Request exceeds the maximum allowed number of bytes.",
            {},
            ProviderError,
            413,
        ),
    ],
)
def test_error_mapping(
    status: int, kind: str, message: str, headers: dict[str, str], expected: type, http_status: int
) -> None:
    error = parse_error(status, error_body(kind, message), headers)
    assert type(error) is expected
    assert error.provider == "anthropic" and error.upstream_status == status and error.http_status == http_status
    assert message in error.message and error.raw
    if headers:
        assert error.retry_after == 17.0
    assert error.retryable is (status in (429, 500, 529))
