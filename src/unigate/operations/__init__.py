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

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from unigate.providers.base import Provider
from unigate.types import Deployment, Usage

R = TypeVar("R")  # the operation's canonical request (ChatRequest, EmbeddingRequest, …)
T = TypeVar("T")  # its canonical answer

__all__ = ["Operation", "usage_field"]


def usage_field(result: Any) -> Usage | None:
    """The usage of an OpenAI-shaped answer: its ``usage`` object (priced by the catalog)."""
    usage: Usage | None = result.get("usage") if isinstance(result, dict) else None
    return usage


@dataclass(frozen=True, slots=True)
class Operation(Generic[R, T]):
    """``endpoint``: the operation's name (``"embeddings"``, ``"count_tokens"``, …).
    ``call(provider, request, deployment)``: perform it on one deployment; raise
    :class:`~unigate.errors.Unsupported` when that provider cannot (routing moves on).
    ``usage(result)``: the tokens to price and account (``None``: nothing billable)."""

    endpoint: str
    call: Callable[[Provider, R, Deployment], Awaitable[T]]
    usage: Callable[[T], Usage | None] = usage_field
