"""The usage ledger: one row per request, queued by ``settle`` (atomically with its charge) and
written to the database in batches by a background flusher.

Delivery is at-least-once (a record is acknowledged only after its transaction commits) and
the write is idempotent on request id, so a crash neither loses a settled charge nor counts
one twice.

Never stuck: every row is fitted to the table (strings cut to their column, numbers clamped to
theirs) before it is written, and a batch the database refuses is retried row by row; a row the
database still refuses (while it answers other queries) goes to ``unigate_usage_quarantine``
with the reason, its cost still counted as spent, and the queue moves on. While the database is
away nothing is acknowledged: records wait in the queue (the journal or the Redis stream).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import orjson
from sqlalchemy import BigInteger, Integer

from unigate.accounts.schema import ledger
from unigate.accounts.store import Store
from unigate.context import RequestContext
from unigate.errors import error_class_name
from unigate.state import StateBackend

log = logging.getLogger("unigate.accounts")

QUEUE = "ledger"


@lru_cache(maxsize=4)
def _utc_day(day_number: int) -> str:
    return datetime.fromtimestamp(day_number * 86400, UTC).strftime("%Y-%m-%d")


def usage_row(ctx: RequestContext, cost_nusd: int, now: float | None = None) -> dict[str, Any]:
    now = time.time() if now is None else now
    usage = ctx.usage or {}
    deployment = ctx.trace.deployment
    principal = ctx.principal
    return {
        "request_id": ctx.request_id,
        "ts": now,
        "day": _utc_day(int(now // 86400)),  # formatted once per day, not per request
        "key_id": principal.key_id,
        "team_id": principal.team_id,
        "model": ctx.model,
        "deployment": deployment.id if deployment is not None else None,
        "provider": deployment.provider if deployment is not None else None,
        "endpoint": ctx.surface or ctx.endpoint,
        "stream": ctx.stream,
        "input_tokens": int(usage.get("prompt_tokens") or 0),
        "cached_tokens": int((usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0),
        "output_tokens": int(usage.get("completion_tokens") or 0),
        "reasoning_tokens": int((usage.get("completion_tokens_details") or {}).get("reasoning_tokens") or 0),
        "cost_nusd": cost_nusd,
        "latency_ms": ctx.latency_ms,
        "ttft_ms": ctx.trace.ttft_ms,
        "status": ctx.status,
        "error_class": error_class_name(ctx.error) if ctx.error is not None else None,
    }


def _column_bounds() -> tuple[tuple[tuple[str, int], ...], tuple[tuple[str, int], ...]]:
    """``(text columns, integer columns)``, each as ``(name, bound)``."""
    texts: list[tuple[str, int]] = []
    ints: list[tuple[str, int]] = []
    for column in ledger.columns:
        length = getattr(column.type, "length", None)
        if length:
            texts.append((column.name, int(length)))
        elif isinstance(column.type, BigInteger):
            ints.append((column.name, 2**63 - 1))
        elif isinstance(column.type, Integer):
            ints.append((column.name, 2**31 - 1))
    return tuple(texts), tuple(ints)


_TEXTS, _INTS = _column_bounds()


def fit_row(row: dict[str, Any]) -> dict[str, Any]:
    """The row cut to what its table can hold (a value from an upstream or a client must not
    make the database refuse a charge, nor an integer past 64 bits the encoder)."""
    for name, bound in _TEXTS:
        value = row.get(name)
        if isinstance(value, str) and len(value) > bound:
            row[name] = value[:bound]
    for name, bound in _INTS:
        value = row.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and not -bound <= value <= bound:
            row[name] = max(-bound, min(bound, value))
    return row


def encode(row: dict[str, Any]) -> bytes:
    return orjson.dumps(fit_row(row))


class LedgerFlusher:
    """Moves queued ledger records into the database every ``interval`` seconds."""

    def __init__(self, state: StateBackend, store: Store, consumer: str, interval: float, batch: int) -> None:
        self.state = state
        self.store = store
        self.consumer = consumer
        self.interval = interval
        self.batch = batch
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self.written = 0
        self.quarantined = 0

    def start(self) -> None:
        self._task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                while await self.flush_once() >= self.batch:
                    pass
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("ledger flush failed; records stay queued and are retried")

    async def flush_once(self) -> int:
        """Write one batch; returns how many records were taken from the queue. Raises (and
        acknowledges nothing) while the database is away."""
        async with self._lock:
            records = await self.state.queue_read(QUEUE, self.consumer, self.batch)
            if not records:
                return 0
            rows: list[dict[str, Any]] = []
            raws: list[bytes] = []
            for _, raw in records:
                error = "not a JSON object"
                try:
                    row = orjson.loads(raw)
                except orjson.JSONDecodeError as exc:
                    row = None
                    error = f"unreadable record: {exc}"
                if not isinstance(row, dict):
                    await self.store.quarantine_usage(raw.decode(errors="replace"), error, None)
                    self.quarantined += 1
                    continue
                rows.append(fit_row(row))
                raws.append(raw)
            try:
                self.written += await self.store.insert_usage(rows)
            except Exception:
                if not await self.store.reachable():
                    raise  # the database is away: everything stays queued
                await self._one_by_one(rows, raws)
            await self.state.queue_ack(QUEUE, [rid for rid, _ in records])
            return len(records)

    async def _one_by_one(self, rows: list[dict[str, Any]], raws: list[bytes]) -> None:
        """A refused batch, row by row: the rows the database takes are written, the ones it
        refuses are quarantined."""
        for row, raw in zip(rows, raws, strict=True):
            try:
                self.written += await self.store.insert_usage([row])
            except Exception as exc:
                if not await self.store.reachable():
                    raise
                log.error("ledger row %s refused by the database, quarantined: %s", row.get("request_id"), exc)
                await self.store.quarantine_usage(raw.decode(errors="replace"), f"{type(exc).__name__}: {exc}", row)
                self.quarantined += 1

    async def flush(self) -> None:
        """Write everything this process can read from the queue now."""
        while await self.flush_once():
            pass

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.flush()
