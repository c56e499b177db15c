"""openai_compat: upstream errors → the error tree.

The OpenAI-compatible family: pure translation, error classes, and every OpenAI-family
recording replayed over real HTTP through the provider.
"""

from __future__ import annotations

import json

import pytest

from unigate.errors import (
    ContentFiltered,
    ContextWindowExceeded,
    ProviderError,
    UpstreamRateLimited,
    UpstreamServerError,
)
from unigate.providers.openai_compat import parse_error


@pytest.mark.parametrize(
    ("status", "body", "cls"),
    [
        (
            400,
            {
                "error": {
                    "message": "This model's maximum context length is 8192 tokens",
                    "code": "context_length_exceeded",
                }
            },
            ContextWindowExceeded,
        ),
        (400, {"error": {"message": "Please reduce the length of the messages."}}, ContextWindowExceeded),
        (400, {"error": {"message": "flagged", "code": "content_filter"}}, ContentFiltered),
        (429, {"error": {"message": "Rate limit reached"}}, UpstreamRateLimited),
        (500, {"error": {"message": "oops"}}, UpstreamServerError),
        (400, {"error": {"message": "Invalid 'tools'"}}, ProviderError),
    ],
)
def test_parse_error_classes(status, body, cls):
    error = parse_error("openai", status, json.dumps(body).encode(), {"retry-after": "3"})
    assert type(error) is cls
    assert body["error"]["message"] in error.message
    if cls is UpstreamRateLimited:
        assert error.retry_after == 3
