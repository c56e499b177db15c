"""AWS error JSON (``x-amzn-errortype`` + ``{"message"}``) and event-stream exceptions → the
error tree."""

from __future__ import annotations

from typing import Any

import orjson

from unigate.errors import (
    ContentFiltered,
    ContextWindowExceeded,
    ProviderError,
    UpstreamRateLimited,
    UpstreamServerError,
    UpstreamTimeout,
    classify_http_status,
    parse_retry_after,
)

PROVIDER = "bedrock"
_PROVIDER = PROVIDER


_CONTEXT_MARKERS = (
    "input is too long",
    "too many input tokens",
    "prompt is too long",
    "context length",
    "context window",
    "maximum context",
    "too many tokens",
    "max_tokens exceeds",
    "input length",
)

# AWS exception names (from ``x-amzn-errortype`` or a stream's ``:exception-type``) → class.
_EXCEPTIONS: dict[str, type[ProviderError]] = {
    "throttlingexception": UpstreamRateLimited,
    "servicequotaexceededexception": UpstreamRateLimited,
    "modelnotreadyexception": UpstreamRateLimited,
    "toomanyrequestsexception": UpstreamRateLimited,
    "internalserverexception": UpstreamServerError,
    "serviceunavailableexception": UpstreamServerError,
    "modelstreamerrorexception": UpstreamServerError,
    "modelerrorexception": UpstreamServerError,
    "modeltimeoutexception": UpstreamTimeout,
}


def error_from_exception(kind: str, message: str, status: int | None, raw: bytes | None) -> ProviderError:
    """An AWS exception name + message → the error tree (shared by HTTP errors and stream events)."""
    name = kind.split(":", 1)[0].strip().lower()
    text = f"{_PROVIDER}: {message}" if message else f"{_PROVIDER}: {kind}"
    kwargs: dict[str, Any] = {"provider": _PROVIDER, "status": status, "raw": raw}
    cls = _EXCEPTIONS.get(name)
    if cls is not None:
        return cls(text, **kwargs)
    lowered = message.lower()
    if name in ("validationexception", "") and any(marker in lowered for marker in _CONTEXT_MARKERS):
        return ContextWindowExceeded(text, **kwargs)
    if "guardrail" in lowered and "block" in lowered:
        return ContentFiltered(text, **kwargs)
    return classify_http_status(status or 400, text, provider=_PROVIDER, raw=raw, code=kind.split(":", 1)[0] or None)


def parse_error(status: int, raw: bytes, headers: Any = None) -> ProviderError:
    """An AWS JSON error (``{"message": ...}`` + ``x-amzn-errortype``) → the error tree."""
    message = ""
    kind = ""
    try:
        body = orjson.loads(raw) if raw else {}
        if isinstance(body, dict):
            message = str(body.get("message") or body.get("Message") or "")
            kind = str(body.get("__type") or "").rsplit("#", 1)[-1]
    except orjson.JSONDecodeError:
        message = raw[:500].decode(errors="replace")
    if headers is not None and headers.get("x-amzn-errortype"):
        kind = str(headers.get("x-amzn-errortype"))
    message = message or f"upstream returned HTTP {status}"
    error = error_from_exception(kind, message, status, raw)
    if status == 429 and not isinstance(error, UpstreamRateLimited):
        error = UpstreamRateLimited(error.message, provider=_PROVIDER, status=status, raw=raw)
    if isinstance(error, UpstreamRateLimited | UpstreamServerError):
        error.retry_after = parse_retry_after(headers)
    return error
