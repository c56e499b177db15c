"""Settlements that could not reach the shared state (Redis away), kept until they can.

A request that was served must be charged and recorded even if Redis went away while it ran:
its ``settle`` (charges, released slots, the ledger record) is journaled locally — in
``data_dir/journal`` — and replayed, in order, as soon as Redis answers again. New requests
of keys with limits wait (503) until the backlog is replayed, so no admission ever sees a
balance without the charges made before it.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import orjson

from unigate.state import Charge, StateBackend, WindowAdd
from unigate.state.memory import MemoryState

log = logging.getLogger("unigate.accounts")

QUEUE = "settle-backlog"


class SettleBacklog:
    def __init__(self, journal_dir: Path | None) -> None:
        self._local = MemoryState(journal_dir)
        self.pending = 0

    async def start(self) -> None:
        self.pending = await self._local.queue_len(QUEUE)

    async def keep(
        self,
        holder: str,
        semaphores: list[str],
        charges: list[Charge],
        windows: list[WindowAdd],
        record: tuple[str, bytes] | None,
    ) -> None:
        op = {
            "holder": holder,
            "semaphores": semaphores,
            "charges": [[c.key, c.amount] for c in charges],
            "windows": [[w.key, w.window, w.amount] for w in windows],
            "record": None if record is None else [record[0], record[1].decode()],
        }
        await self._local.settle(holder, record=(QUEUE, orjson.dumps(op)))
        self.pending += 1

    async def replay(self, state: StateBackend) -> None:
        """Apply what is kept, oldest first; raises (keeping the rest) if the state is still away."""
        while self.pending:
            batch = await self._local.queue_read(QUEUE, "local", 100)
            if not batch:
                self.pending = 0
                return
            for rid, raw in batch:
                op: dict[str, Any] = orjson.loads(raw)
                record = op["record"]
                await state.settle(
                    op["holder"],
                    semaphores=op["semaphores"],
                    charges=[Charge(key, amount) for key, amount in op["charges"]],
                    windows=[WindowAdd(key, window, amount) for key, window, amount in op["windows"]],
                    record=None if record is None else (record[0], record[1].encode()),
                )
                await self._local.queue_ack(QUEUE, [rid])
                self.pending -= 1
            log.info("replayed %d settlements kept while the shared state was away", len(batch))

    async def aclose(self) -> None:
        await self._local.aclose()
