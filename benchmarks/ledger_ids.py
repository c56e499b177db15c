"""Ledger insert cost as the table grows, with random request ids against time-ordered ones
(``unigate.types.new_request_id``), through the real ``Store.insert_usage`` on SQLite.

    .venv/bin/python benchmarks/ledger_ids.py [--rows 120000]

A random primary key sends every insert to a random page of the key's index, so the cost per
row grows with the table; an id that grows with time appends to it and stays flat.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections.abc import Callable
from random import getrandbits
from typing import Any

from unigate.accounts.db import create_engine, upgrade
from unigate.accounts.store import Store
from unigate.config import validate
from unigate.types import new_request_id

BATCH = 500  # the flusher's default batch (accounts.ledger_batch_size)


def row(request_id: str) -> dict[str, Any]:
    return {
        "request_id": request_id,
        "ts": time.time(),
        "day": "2026-12-02",
        "key_id": "key_bench",
        "team_id": None,
        "model": "gpt-4o-mini",
        "deployment": "gpt-4o-mini",
        "provider": "openai",
        "endpoint": "chat",
        "stream": False,
        "input_tokens": 24,
        "cached_tokens": 0,
        "output_tokens": 22,
        "reasoning_tokens": 0,
        "cost_nusd": 17_000,
        "latency_ms": 1.2,
        "ttft_ms": None,
        "status": "ok",
        "error_class": None,
    }


async def measure(make_id: Callable[[], str], rows: int, steps: int) -> list[float]:
    with tempfile.TemporaryDirectory() as data_dir:
        config = validate({"models": [], "local_model": {"enabled": False}, "data_dir": data_dir})
        store = Store(create_engine(config))
        await upgrade(store.engine)
        out = []
        for _ in range(steps):
            batches = [[row(make_id()) for _ in range(BATCH)] for _ in range(rows // steps // BATCH)]
            started = time.process_time()
            for batch in batches:
                await store.insert_usage(batch)
            out.append((time.process_time() - started) / (len(batches) * BATCH) * 1e6)
        await store.aclose()
        return out


async def run(rows: int, steps: int) -> None:
    print(f"CPU µs per ledger row, each figure over the next {rows // steps:,} rows (table growing to {rows:,})")
    for label, make_id in (
        ("random ids", lambda: f"req_{getrandbits(128):032x}"),
        ("time-ordered ids", new_request_id),
    ):
        figures = await measure(make_id, rows, steps)
        print(f"{label:17} " + "  ".join(f"{f:5.1f}" for f in figures))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=120_000)
    parser.add_argument("--steps", type=int, default=6)
    args = parser.parse_args()
    asyncio.run(run(args.rows, args.steps))


if __name__ == "__main__":
    main()
