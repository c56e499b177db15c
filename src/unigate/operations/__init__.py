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
from typing import Any, Generic, Literal, TypeVar

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
    """``endpoint``: the operation's name, the catalog's endpoint name (``"embeddings"``,
    ``"transcription"``, ``"rerank"``, …).
    ``call(provider, request, deployment)``: perform it on one deployment; raise
    :class:`~unigate.errors.Unsupported` when that provider cannot (routing moves on).
    ``usage(result)``: the canonical usage to price and account (``None``: none reported).
    ``method``: the provider method the call needs, when not every provider has it: models whose
    deployments all lack it (or that the catalog says serve other endpoints) are refused before
    any hook runs, and such deployments are passed over while routing.
    ``pricing``: ``tokens`` (the catalog's token prices; a missing usage is estimated from what
    was sent), ``media`` (per request, second, image, …: ``Catalog.request_cost``) or ``free``."""

    endpoint: str
    call: Callable[[Any, R, Deployment], Awaitable[T]]  # the provider: any object with the method
    usage: Callable[[T], Usage | None] = usage_field
    method: str | None = None
    pricing: Literal["tokens", "media", "free"] = "tokens"
