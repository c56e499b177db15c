"""Cohere error bodies (``{"message": ...}``) → the error tree."""

from __future__ import annotations

from typing import Any

import orjson

from unigate.errors import ContextWindowExceeded, ProviderError, classify_http_status, parse_retry_after

PROVIDER = "cohere"


_CONTEXT_MARKERS = (
    "too many tokens",
    "prompt is too long",
    "context length",
    "context window",
    "maximum context",
)


def parse_error(status: int, raw: bytes, headers: Any = None) -> ProviderError:
    """A non-2xx ``/v2/chat`` reply (``{"message": ...}``) → the error tree."""
    try:
        body = orjson.loads(raw) if raw else {}
        message = str(body.get("message") or body.get("error") or "") if isinstance(body, dict) else str(body)
    except orjson.JSONDecodeError:
        message = raw[:500].decode(errors="replace")
    message = message or f"upstream returned HTTP {status}"
    text = f"{PROVIDER}: {message}"
    if status in (400, 422) and any(marker in message.lower() for marker in _CONTEXT_MARKERS):
        return ContextWindowExceeded(text, provider=PROVIDER, status=status, raw=raw)
    # 498 is Cohere's "invalid token" (a bad upstream key): the same class as a 401.
    status = 401 if status == 498 else status
    return classify_http_status(status, text, provider=PROVIDER, raw=raw, retry_after=parse_retry_after(headers))
