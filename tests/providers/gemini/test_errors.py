"""gemini: upstream errors → the error tree.

Gemini translation checked against real recorded traffic, plus the provider over real HTTP.

For every recording in the gemini folder (except those in ``UNSUPPORTED``) the test builds the
OpenAI-format request a client would send, checks ``to_native`` against the recorded request,
and feeds the recorded reply through ``from_native`` / the stream translator. The same cases
then run through :class:`GeminiProvider` against a replay server on 127.0.0.1.
"""

from __future__ import annotations

import orjson

from unigate.errors import (
    ContextWindowExceeded,
    ProviderError,
    UpstreamRateLimited,
    UpstreamServerError,
)
from unigate.providers.gemini import (
    parse_error,
)


def test_error_mapping() -> None:
    rate = parse_error(
        429,
        orjson.dumps(
            {
                "error": {
                    "code": 429,
                    "status": "RESOURCE_EXHAUSTED",
                    "message": "Quota",
                    "details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "37s"}],
                }
            }
        ),
    )
    assert isinstance(rate, UpstreamRateLimited) and rate.retry_after == 37.0 and rate.retryable
    unavailable = parse_error(503, orjson.dumps({"error": {"code": 503, "status": "UNAVAILABLE", "message": "busy"}}))
    assert isinstance(unavailable, UpstreamServerError) and "busy" in unavailable.message
    too_long = parse_error(
        400,
        orjson.dumps(
            {
                "error": {
                    "code": 400,
                    "status": "INVALID_ARGUMENT",
                    "message": (
                        "The input token count (1200000) exceeds the maximum number of tokens allowed (1048576)."
                    ),
                }
            }
        ),
    )
    assert isinstance(too_long, ContextWindowExceeded) and too_long.code == "context_length_exceeded"
    bad = parse_error(
        400,
        orjson.dumps(
            {
                "error": {
                    "code": 400,
                    "status": "INVALID_ARGUMENT",
                    "message": "Invalid JSON payload received.",
                }
            }
        ),
    )
    assert type(bad) is ProviderError and bad.http_status == 400 and "Invalid JSON payload" in bad.message
    denied = parse_error(403, orjson.dumps([{"error": {"code": 403, "status": "PERMISSION_DENIED", "message": "no"}}]))
    assert type(denied) is ProviderError and denied.http_status == 502 and denied.message == "gemini: no"
