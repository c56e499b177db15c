"""OpenAI-style error bodies → the error tree, keeping the upstream's message."""

from __future__ import annotations

from typing import Any

import orjson

from unigate.errors import (
    ContentFiltered,
    ContextWindowExceeded,
    ProviderError,
    classify_http_status,
    parse_retry_after,
)

_CONTEXT_MARKERS = (
    "context_length_exceeded",
    "maximum context length",
    "context length",
    "too many tokens",
    "prompt is too long",
    "reduce the length",
    "context window",
)


def parse_error(provider: str, status: int, raw: bytes, headers: Any = None) -> ProviderError:
    """An OpenAI-style error body → the error tree, keeping the upstream's message."""
    message = ""
    code: str | None = None
    try:
        body = orjson.loads(raw) if raw else {}
        error = body.get("error", body) if isinstance(body, dict) else {}
        if isinstance(error, dict):
            message = str(error.get("message") or error.get("detail") or "")
            code = error.get("code") or error.get("type")
            code = str(code) if code is not None else None
        elif isinstance(error, str):
            message = error
    except (orjson.JSONDecodeError, AttributeError):
        message = raw[:500].decode(errors="replace")
    message = message or f"upstream returned HTTP {status}"
    lowered = message.lower()
    text = f"{provider}: {message}"
    if status in (400, 413, 422) and (code == "context_length_exceeded" or any(m in lowered for m in _CONTEXT_MARKERS)):
        return ContextWindowExceeded(text, provider=provider, status=status, raw=raw)
    if code == "content_filter" or "content management policy" in lowered or "content_policy" in (code or ""):
        return ContentFiltered(text, provider=provider, status=status, raw=raw)
    return classify_http_status(
        status, text, provider=provider, raw=raw, retry_after=parse_retry_after(headers), code=code
    )
