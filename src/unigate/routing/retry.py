"""What to do after a failed attempt, and how long to wait before retrying.

Dispositions (decided on the error class, never on message text):

- ``RETRY``   429 / 5xx / timeout / connection: may retry the same deployment (with backoff),
              then the next deployment, then the group's fallback chain
- ``NEXT``    a fault of this deployment that a retry will not fix (upstream 401/403/404 from a bad
              key or model id, an unparseable reply) or an operation its provider cannot do
              (``Unsupported``): next deployment, then the fallback chain
- ``CONTEXT`` context window exceeded: the context-window fallback chain (a larger model)
- ``CONTENT`` content filtered: the content-filter fallback chain (another provider)
- ``FATAL``   the request itself is wrong (400/422, gateway-side validation): answered as is,
              never sent anywhere else, so a bad request costs exactly one upstream call
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from enum import Enum

from unigate.errors import ContentFiltered, ContextWindowExceeded, GatewayError, ProviderError, Unsupported


class Disposition(Enum):
    RETRY = "retry"
    NEXT = "next"
    CONTEXT = "context"
    CONTENT = "content"
    FATAL = "fatal"


def disposition(error: GatewayError) -> Disposition:
    if error.retryable:
        return Disposition.RETRY
    if isinstance(error, ContextWindowExceeded):
        return Disposition.CONTEXT
    if isinstance(error, ContentFiltered):
        return Disposition.CONTENT
    if isinstance(error, Unsupported):
        return Disposition.NEXT
    if type(error) is ProviderError:
        status = error.upstream_status
        if status is None or status >= 500 or status in (401, 403, 404):
            return Disposition.NEXT
    return Disposition.FATAL


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    base: float = 0.05  # first backoff ceiling, seconds
    cap: float = 2.0  # backoff ceiling
    max_retry_after: float = 10.0  # a longer Retry-After means: don't wait, go elsewhere


DEFAULT_RETRY = RetryPolicy()


def backoff(attempt: int, retry_after: float | None, policy: RetryPolicy = DEFAULT_RETRY) -> float | None:
    """Seconds before retry number ``attempt`` (1-based): full-jitter exponential backoff, or the
    upstream's ``Retry-After`` (plus a little jitter). ``None``: Retry-After is beyond the cap."""
    if retry_after is not None and retry_after > 0:
        if retry_after > policy.max_retry_after:
            return None
        return retry_after + random.uniform(0, policy.base)
    return random.uniform(0, min(policy.cap, policy.base * 2 ** (attempt - 1)))
