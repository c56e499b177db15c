"""The usage ledger: one row per request, queued by ``settle`` (atomically with its charge) and
written to the database in batches by a background flusher.

Delivery is at-least-once (a record is acknowledged only after its transaction commits) and
the write is idempotent on request id, so a crash neither loses a settled charge nor counts
one twice.
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
        "endpoint": ctx.endpoint,
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


def encode(row: dict[str, Any]) -> bytes:
    return orjson.dumps(row)


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
        """Write one batch; returns how many records were taken from the queue."""
        async with self._lock:
            records = await self.state.queue_read(QUEUE, self.consumer, self.batch)
            if not records:
                return 0
            rows = []
            for _, raw in records:
                try:
                    rows.append(orjson.loads(raw))
                except orjson.JSONDecodeError:
                    log.error("dropping an unreadable ledger record (%d bytes)", len(raw))
            self.written += await self.store.insert_usage(rows)
            await self.state.queue_ack(QUEUE, [rid for rid, _ in records])
            return len(records)

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
