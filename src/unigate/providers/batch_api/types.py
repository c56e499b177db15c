"""What every provider Batch API client shares: which deployments send batches to their
provider (the option ``native_batches: true`` on OpenAI, Azure OpenAI or Anthropic), the lines'
ids upstream, progress, a line's outcome and the client protocol."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from unigate.types import Deployment, Usage

PROVIDERS = ("openai", "azure", "anthropic")
# the endpoints each provider's Batch API takes
ENDPOINTS = {
    "openai": ("/v1/chat/completions", "/v1/embeddings", "/v1/responses"),
    "azure": ("/v1/chat/completions", "/v1/embeddings", "/v1/responses"),
    "anthropic": ("/v1/chat/completions",),
}
# a line's operation and (where it is not the operation's own) its API, as for an interactive
# request: what the hooks act on, and what the ledger and log record
LEDGER_ENDPOINT = {"/v1/chat/completions": "chat", "/v1/embeddings": "embeddings", "/v1/responses": "chat"}
LEDGER_SURFACE = {"/v1/responses": "responses"}


def wants_native(deployment: Deployment) -> bool:
    value = deployment.option("native_batches", False)
    return value is True or (isinstance(value, str) and value.lower() in ("true", "1", "yes"))


def native_deployment(deployments: list[Deployment], endpoint: str) -> Deployment | None:
    """The first deployment that sends batches of ``endpoint`` to its provider's Batch API."""
    for deployment in deployments:
        if deployment.provider in PROVIDERS and endpoint in ENDPOINTS[deployment.provider] and wants_native(deployment):
            return deployment
    return None


def remote_custom_id(line_no: int) -> str:
    """The id a line has upstream: its number (Anthropic allows only ``[a-zA-Z0-9_-]{1,64}``,
    and a client's custom_id may be anything)."""
    return f"line-{line_no}"


def line_of(custom_id: Any) -> int | None:
    if isinstance(custom_id, str) and custom_id.startswith("line-") and custom_id[5:].isdigit():
        return int(custom_id[5:])
    return None


def result_rows(raw: bytes) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, row) of each JSONL result row that names one of our lines."""
    for row in raw.splitlines():
        try:
            item = orjson.loads(row)
        except orjson.JSONDecodeError:
            continue
        line_no = line_of(item.get("custom_id")) if isinstance(item, dict) else None
        if line_no is not None:
            yield line_no, item


@dataclass(frozen=True, slots=True)
class Progress:
    """The remote batch's state: ``running``, or ended as ``completed``, ``failed``,
    ``cancelled`` or ``expired``; its counts; the provider's reason when it failed."""

    state: str
    completed: int = 0
    failed: int = 0
    errors: list[dict[str, Any]] | None = None

    @property
    def ended(self) -> bool:
        return self.state != "running"


@dataclass(frozen=True, slots=True)
class Outcome:
    """One line's answer from the provider, in OpenAI's batch shape (``body`` is a chat
    completion, embeddings or response object, or an ``{"error": …}`` body)."""

    line_no: int
    status_code: int
    body: Any
    usage: Usage | None


class NativeBatches(Protocol):
    """One provider's Batch API, for one deployment."""

    def prepare(self, line_no: int, body: dict[str, Any]) -> dict[str, Any]:
        """The line in the provider's input format; a GatewayError if it cannot be sent."""
        ...

    async def submit(self, batch_id: str, lines: list[dict[str, Any]]) -> dict[str, Any]:
        """Upload and start the remote batch; what identifies it (persisted, for restarts)."""
        ...

    async def find(self, batch_id: str) -> dict[str, Any] | None:
        """The remote batch a submit that was cut short may have started, if it can be found."""
        ...

    async def poll(self, remote: dict[str, Any]) -> Progress: ...

    async def cancel(self, remote: dict[str, Any]) -> None: ...

    async def results(self, remote: dict[str, Any]) -> list[Outcome]:
        """Every answered line (lines the provider never ran — expired, cancelled — are absent)."""
        ...
