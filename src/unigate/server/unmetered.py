"""Limits for requests that never reach a model: ``/v1/feedback`` (``count_tokens`` runs through
the pipeline, whose accounts hook applies the same limits).

They cost nothing upstream, so they skip the pipeline's budget reservation, but each is a
request: the caller's requests-per-minute limits (key and team) apply to them as to any other,
so neither can be used to hammer the gateway (or, for count_tokens, Anthropic's counting
endpoint) without bound.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from unigate.context import Principal
from unigate.server.http import Request

if TYPE_CHECKING:
    from unigate.accounts.runtime import AccountsRuntime


async def admit_unmetered(accounts: AccountsRuntime | None, request: Request, principal: Principal) -> None:
    """Raise RateLimited (429) when the caller is past its requests per minute (no accounts:
    nothing limits anyone)."""
    if accounts is not None:
        await accounts.accountant.admit_unmetered(principal, request.path_params["request_id"])
