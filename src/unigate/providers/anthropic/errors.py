"""Anthropic error bodies and in-stream ``error`` events → the error tree (pure, no I/O)."""

from __future__ import annotations

from typing import Any

import orjson

from unigate.errors import ContextWindowExceeded, ProviderError, classify_http_status, parse_retry_after
from unigate.providers.anthropic.tables import ERROR_TYPE_STATUS

PROVIDER = "anthropic"

_CONTEXT_MARKERS = ("prompt is too long", "exceed context limit", "context window", "too many tokens")


def _classify(
    status: int, message: str, error_type: str | None, raw: bytes | str | None, retry_after: float | None
) -> ProviderError:
    text = f"{PROVIDER}: {message}"
    if status in (400, 413) and any(marker in message.lower() for marker in _CONTEXT_MARKERS):
        return ContextWindowExceeded(text, provider=PROVIDER, status=status, raw=raw)
    return classify_http_status(status, text, provider=PROVIDER, raw=raw, retry_after=retry_after, code=error_type)


def error_from_payload(payload: dict[str, Any], raw: bytes | str | None = None) -> ProviderError:
    """An ``{"type": "error", "error": {...}}`` object (HTTP body or stream event) → the tree."""
    found = payload.get("error")
    error: dict[str, Any] = found if isinstance(found, dict) else {}
    error_type = error.get("type")
    message = str(error.get("message") or error_type or "upstream error")
    return _classify(ERROR_TYPE_STATUS.get(error_type or "", 500), message, error_type, raw, None)


def parse_error(status: int, raw: bytes, headers: Any = None) -> ProviderError:
    """A non-2xx Messages API reply → the error tree, keeping Anthropic's message."""
    error_type: str | None = None
    try:
        body = orjson.loads(raw) if raw else {}
        error = body.get("error") if isinstance(body, dict) else None
        if isinstance(error, dict):
            error_type = error.get("type")
            message = str(error.get("message") or error_type or "")
        else:
            message = str(error or "")
    except orjson.JSONDecodeError:
        message = raw[:500].decode(errors="replace")
    return _classify(status, message or f"upstream returned HTTP {status}", error_type, raw, parse_retry_after(headers))
