"""Limits for requests that never reach a model: ``count_tokens`` and ``/v1/feedback``.

They cost nothing upstream, so they skip the pipeline's budget reservation, but each is a
request: the caller's requests-per-minute limits (key and team) apply to them as to any other,
so neither can be used to hammer the gateway (or, for count_tokens, Anthropic's counting
endpoint) without bound.
"""

from __future__ import annotations

from typing import Any

from unigate.gateway import Principal
from unigate.server.http import Request


async def admit_unmetered(app: Any, request: Request, principal: Principal) -> None:
    """Raise RateLimited (429) when the caller is past its requests per minute."""
    try:
        from unigate.accounts.install import runtime_of
    except ModuleNotFoundError:  # accounts not installed: nothing limits anyone
        return
    runtime = runtime_of(app)
    if runtime is not None:
        await runtime.accountant.admit_unmetered(principal, request.path_params["request_id"])
