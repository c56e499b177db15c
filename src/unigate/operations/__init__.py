"""Canonical operations: what the pipeline can be asked to do, in no wire format.

A surface (server/) parses its wire format into a canonical request and hands it to
``Gateway.run(operation, request, principal)`` together with an :class:`Operation`, which says
two things the pipeline cannot know by itself: its name (``ctx.endpoint``: the ledger's, logs'
and metrics' word for it) and how *one deployment* performs it (``call``). Everything around
that call is the pipeline's: auto routing, the access check, hooks (limits, budget, ledger,
metrics, logs), routing with retries / fallbacks / health / trace, cost and settlement.

Chat (``Gateway.chat`` / ``chat_stream``) is the same pipeline with a streamed variant;
:data:`~unigate.operations.embeddings.EMBEDDINGS` and
:data:`~unigate.operations.count_tokens.COUNT_TOKENS` are operations like any new one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from unigate.routing.router import Call

T = TypeVar("T")

__all__ = ["Operation", "usage_field"]


def usage_field(result: Any) -> dict[str, Any] | None:
    """The usage of an OpenAI-shaped answer: its ``usage`` object (priced by the catalog)."""
    return result.get("usage") if isinstance(result, dict) else None


@dataclass(frozen=True, slots=True)
class Operation(Generic[T]):
    """``endpoint``: the operation's name (``"embeddings"``, ``"count_tokens"``, …).
    ``call(provider, request, deployment)``: perform it on one deployment; raise
    :class:`~unigate.errors.Unsupported` when that provider cannot (routing moves on).
    ``usage(result)``: the tokens to price and account (``None``: nothing billable)."""

    endpoint: str
    call: Call[T]
    usage: Callable[[T], dict[str, Any] | None] = usage_field
