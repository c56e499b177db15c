"""Google's error JSON and blocked prompts → the error tree."""

from __future__ import annotations

import re
from typing import Any

import orjson

from unigate.errors import (
    ContentFiltered,
    ContextWindowExceeded,
    ProviderError,
    UpstreamRateLimited,
    UpstreamServerError,
    classify_http_status,
    parse_retry_after,
)

PROVIDER = "gemini"


def raw_of(body: Any) -> bytes:
    return orjson.dumps(body)[:2000]


def blocked(body: dict[str, Any]) -> ContentFiltered:
    feedback = body.get("promptFeedback") or {}
    reason = feedback.get("blockReason")
    detail = feedback.get("blockReasonMessage") or ""
    return ContentFiltered(
        f"{PROVIDER}: prompt blocked ({reason}){': ' + detail if detail else ''}",
        provider=PROVIDER,
        status=400,
        raw=raw_of(body),
    )


_CONTEXT_MARKERS = (
    "input token count",
    "exceeds the maximum number of tokens",
    "prompt is too long",
    "context window",
    "too many tokens",
    "request payload size exceeds",
)

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)s\s*$")


def _retry_delay(details: Any) -> float | None:
    for detail in details if isinstance(details, list) else ():
        if isinstance(detail, dict) and str(detail.get("@type", "")).endswith("RetryInfo"):
            match = _DURATION.match(str(detail.get("retryDelay", "")))
            if match:
                return float(match.group(1))
    return None


def parse_error(status: int, raw: bytes, headers: Any = None, provider: str = PROVIDER) -> ProviderError:
    """Google's ``{"error": {"code", "message", "status", "details"}}`` → the error tree."""
    message = ""
    google_status: str | None = None
    details: Any = None
    try:
        body = orjson.loads(raw) if raw else {}
        if isinstance(body, list):
            body = body[0] if body else {}
        error = body.get("error", body) if isinstance(body, dict) else {}
        if isinstance(error, dict):
            message = str(error.get("message") or "")
            google_status = error.get("status")
            details = error.get("details")
        elif isinstance(error, str):
            message = error
    except (orjson.JSONDecodeError, AttributeError):
        message = raw[:500].decode(errors="replace")
    message = message or f"upstream returned HTTP {status}"
    text = f"{provider}: {message}"
    retry_after = _retry_delay(details) or parse_retry_after(headers)
    # The classified errors keep their own codes (context_length_exceeded …) for OpenAI clients.
    kwargs: dict[str, Any] = {"provider": provider, "status": status, "raw": raw}
    if status == 429 or google_status == "RESOURCE_EXHAUSTED":
        return UpstreamRateLimited(text, retry_after=retry_after, **kwargs)
    if google_status == "UNAVAILABLE" or (status >= 500 and google_status != "DEADLINE_EXCEEDED" and status != 504):
        return UpstreamServerError(text, retry_after=retry_after, **kwargs)
    if status in (400, 413) and any(marker in message.lower() for marker in _CONTEXT_MARKERS):
        return ContextWindowExceeded(text, **kwargs)
    return classify_http_status(status, text, provider=provider, raw=raw, retry_after=retry_after, code=google_status)
