"""The gateway's error tree and its one mapping to HTTP status + OpenAI-shaped error JSON.

::

    GatewayError                       500 api_error (base; never raised bare on purpose)
    ├── BadRequest                     400 invalid_request_error
    │   ├── Unsupported                400 invalid_request_error (this provider cannot do the operation)
    │   └── PayloadTooLarge            413 invalid_request_error
    ├── AuthError                      401 authentication_error
    ├── PermissionDenied               403 permission_error
    ├── NotFound                       404 not_found_error (code model_not_found for models)
    ├── RateLimited                    429 rate_limit_error      (retry_after seconds)
    ├── BudgetExceeded                 402 insufficient_quota
    ├── Overloaded                     503 overloaded_error      (a local queue is full)
    └── ProviderError                  upstream failure, normalized by each provider's parse_error
        ├── ContextWindowExceeded      400 context_length_exceeded
        ├── ContentFiltered            400 content_filter
        ├── UpstreamRateLimited        429 rate_limit_error      retryable
        ├── UpstreamServerError        502 upstream_error        retryable
        ├── UpstreamTimeout            504 timeout               retryable
        └── UpstreamConnectionError    502 upstream_unreachable  retryable

Every error carries ``provider``, ``status``, ``retryable`` and (for provider errors) the raw
upstream body for logs. Routing decides on the class, never on message text.
"""

from __future__ import annotations

from typing import Any, ClassVar

import orjson


class GatewayError(Exception):
    status: ClassVar[int] = 500
    error_type: ClassVar[str] = "api_error"
    default_code: ClassVar[str | None] = None
    retryable: ClassVar[bool] = False

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        provider: str | None = None,
        status: int | None = None,
        raw: bytes | str | None = None,
        retry_after: float | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.param = param
        self.provider = provider
        self.upstream_status = status
        self.raw = raw
        self.retry_after = retry_after
        self.extra_headers = headers or {}

    @property
    def http_status(self) -> int:
        return self.status

    def to_dict(self) -> dict[str, Any]:
        error: dict[str, Any] = {
            "message": self.message,
            "type": self.error_type,
            "param": self.param,
            "code": self.code,
        }
        if self.provider:
            error["provider"] = self.provider
        return {"error": error}

    def to_json(self) -> bytes:
        return orjson.dumps(self.to_dict())

    def response_headers(self) -> dict[str, str]:
        headers = dict(self.extra_headers)
        if self.retry_after is not None:
            headers["retry-after"] = str(max(0, round(self.retry_after)))
        return headers

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, provider={self.provider!r})"


class BadRequest(GatewayError):
    status = 400
    error_type = "invalid_request_error"


class Unsupported(BadRequest):
    """This deployment's provider cannot perform the operation (embeddings on a chat-only
    provider, …): routing passes over it to the next one, without counting it as a failure."""


class PayloadTooLarge(BadRequest):
    status = 413
    default_code = "payload_too_large"


class AuthError(GatewayError):
    status = 401
    error_type = "authentication_error"
    default_code = "invalid_api_key"


class PermissionDenied(GatewayError):
    status = 403
    error_type = "permission_error"
    default_code = "permission_denied"


class NotFound(GatewayError):
    status = 404
    error_type = "not_found_error"
    default_code = "not_found"


def model_not_found(model: str, *, param: str = "model", reason: str = "served", available: str = "") -> NotFound:
    """The one "model not found" error (404, code ``model_not_found``), for every surface.

    ``reason``: ``served`` (no such model), ``allowed`` (this key may not use it, said in words
    that do not confirm the model exists), ``listed`` (a plain lookup), ``hidden`` (a lookup by a
    key outside its model list: the same answer for every such name, which is not echoed) or
    ``policy`` (an unknown auto-routing policy; ``available`` names the known ones).
    """
    where = f" in '{param}'" if param != "model" else ""
    if reason == "allowed":
        message = f"The model '{model}'{where} does not exist or is not available to this key."
    elif reason == "listed":
        message = f"The model '{model}' does not exist"
    elif reason == "hidden":  # a key asking about a model outside its list: the name is not echoed
        message = "The model does not exist or is not available to this key."
    elif reason == "policy":
        message = f"The auto-routing policy '{model}' does not exist. Available: {available}."
    else:
        message = f"The model '{model}'{where} does not exist or is not served by this gateway."
    return NotFound(message, code="model_not_found", param=param)


class RateLimited(GatewayError):
    status = 429
    error_type = "rate_limit_error"
    default_code = "rate_limit_exceeded"


class BudgetExceeded(GatewayError):
    status = 402
    error_type = "insufficient_quota"
    default_code = "budget_exceeded"


class Overloaded(GatewayError):
    status = 503
    error_type = "overloaded_error"
    default_code = "overloaded"
    retryable = True


class ProviderError(GatewayError):
    """An upstream provider failed. Subclasses say how; the base is an unclassified upstream 4xx."""

    status = 400
    error_type = "upstream_error"

    @property
    def http_status(self) -> int:
        # An unclassified upstream client error keeps the upstream status (e.g. 401 from a bad
        # upstream key is surfaced as 502 instead: the client's own key was fine).
        if type(self) is ProviderError and self.upstream_status:
            if self.upstream_status in (401, 403):
                return 502
            if 400 <= self.upstream_status < 500:
                return self.upstream_status
        return self.status


class ContextWindowExceeded(ProviderError):
    status = 400
    error_type = "invalid_request_error"
    default_code = "context_length_exceeded"


class ContentFiltered(ProviderError):
    status = 400
    error_type = "invalid_request_error"
    default_code = "content_filter"


class UpstreamRateLimited(ProviderError):
    status = 429
    error_type = "rate_limit_error"
    default_code = "upstream_rate_limited"
    retryable = True


class UpstreamServerError(ProviderError):
    status = 502
    error_type = "upstream_error"
    default_code = "upstream_server_error"
    retryable = True


class UpstreamTimeout(ProviderError):
    status = 504
    error_type = "timeout_error"
    default_code = "upstream_timeout"
    retryable = True


class UpstreamConnectionError(ProviderError):
    status = 502
    error_type = "upstream_error"
    default_code = "upstream_unreachable"
    retryable = True


def error_class_name(error: BaseException) -> str:
    """A short stable label for metrics/ledger (never message text)."""
    return type(error).__name__


def classify_http_status(
    status: int,
    message: str,
    *,
    provider: str,
    raw: bytes | str | None = None,
    retry_after: float | None = None,
    code: str | None = None,
) -> ProviderError:
    """The default status → error-class mapping shared by every provider's ``parse_error``.

    Providers detect their own context-window / content-filter signals first and fall back here.
    """
    kwargs: dict[str, Any] = {"provider": provider, "status": status, "raw": raw, "code": code}
    if status == 429:
        return UpstreamRateLimited(message, retry_after=retry_after, **kwargs)
    if status in (408, 504):
        return UpstreamTimeout(message, **kwargs)
    if status >= 500 or status == 529:
        return UpstreamServerError(message, retry_after=retry_after, **kwargs)
    return ProviderError(message, **kwargs)


def parse_retry_after(headers: Any) -> float | None:
    """Seconds from a ``Retry-After`` (or ``retry-after-ms``) header, if present and numeric."""
    if headers is None:
        return None
    value = headers.get("retry-after-ms")
    if value:
        try:
            return float(value) / 1000.0
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value:
        try:
            return float(value)
        except ValueError:
            return None
    return None
