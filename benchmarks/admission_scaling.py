"""The cost of one admission and settlement on the in-process state (MemoryState: one process,
or the state host of ``--workers N``) while N other requests on the same key are in flight,
each holding a reservation on the key's budget and one of its concurrency slots. A request's
cost should not grow with N.

    .venv/bin/python benchmarks/admission_scaling.py
    PYTHONPATH=/tmp/other/src .venv/bin/python benchmarks/admission_scaling.py   # another version
"""

from __future__ import annotations

import asyncio
import time

from unigate.state import BalanceCheck, Charge, SemaphoreCheck, WindowCheck
from unigate.state.memory import MemoryState

COUNTER = "budget:key:k1:month:0"
ROUNDS = 2_000


async def per_request_us(in_flight: int) -> float:
    state = MemoryState()
    await state.init_counter(COUNTER, 0)
    balances = [BalanceCheck(COUNTER, 10**15, 1_000)]
    windows = [WindowCheck("rpm:key:k1", 10**9, 60.0)]
    slots = [SemaphoreCheck("conc:key:k1", 10**9)]
    for i in range(in_flight):  # the requests already in flight keep their holds
        admission = await state.admit(f"held-{i}", 30.0, windows, slots, balances)
        assert admission.ok
    start = time.perf_counter()
    for i in range(ROUNDS):
        holder = f"req-{i}"
        admission = await state.admit(holder, 30.0, windows, slots, balances)
        assert admission.ok
        await state.settle(holder, semaphores=[slots[0].key], charges=[Charge(COUNTER, 900)])
    return (time.perf_counter() - start) / ROUNDS * 1e6


def main() -> None:
    print("| requests in flight on the key | µs per admission + settlement |")
    print("| ---: | ---: |")
    for in_flight in (0, 32, 1_000, 10_000):
        best = min(asyncio.run(per_request_us(in_flight)) for _ in range(3))
        print(f"| {in_flight:,} | {best:.1f} |")


if __name__ == "__main__":
    main()
