"""bedrock: upstream errors → the error tree.

Bedrock Converse translation checked against real recorded traffic, plus the provider over real
HTTP (SigV4 with fixed fake credentials, bearer API keys, binary event streams).
"""

from __future__ import annotations

from unigate.errors import (
    ContextWindowExceeded,
    ProviderError,
    UpstreamRateLimited,
    UpstreamServerError,
)
from unigate.providers.bedrock import (
    parse_error,
)
from unigate.providers.bedrock.errors import error_from_exception


def test_error_mapping() -> None:
    throttled = parse_error(429, b'{"message": "Too many requests"}', {"x-amzn-errortype": "ThrottlingException:x"})
    assert isinstance(throttled, UpstreamRateLimited) and throttled.retryable
    long = parse_error(
        400, b'{"message": "Input is too long for requested model."}', {"x-amzn-errortype": "ValidationException"}
    )
    assert isinstance(long, ContextWindowExceeded)
    plain = parse_error(400, b'{"message": "The provided model identifier is invalid."}')
    assert type(plain) is ProviderError and plain.http_status == 400
    assert isinstance(parse_error(503, b'{"message": "busy"}'), UpstreamServerError)
    denied = parse_error(403, b'{"message": "no access"}', {"x-amzn-errortype": "AccessDeniedException"})
    assert type(denied) is ProviderError and denied.http_status == 502
    for kind, cls in (
        ("throttlingException", UpstreamRateLimited),
        ("modelStreamErrorException", UpstreamServerError),
        ("internalServerException", UpstreamServerError),
        ("serviceUnavailableException", UpstreamServerError),
    ):
        assert isinstance(error_from_exception(kind, "boom", None, None), cls)
    assert isinstance(
        error_from_exception("validationException", "too many input tokens", None, None), ContextWindowExceeded
    )
    assert type(error_from_exception("validationException", "bad field", None, None)) is ProviderError
