"""Helper threads yield the CPU to the event loop's thread.

The gateway's Python work all runs on the event loop's thread; its helper threads (the upstream
client's I/O runtime, the request-log writer) only move bytes. With the default policy a helper
woken by the kernel preempts the loop at once: under load on one core the upstream client's
thread woke ~3 times per request and the loop was switched out each time (~190,000 context
switches in 10 s). As ``SCHED_BATCH`` threads (Linux) they still run whenever the loop waits
for I/O, so an idle gateway answers as fast as before, but a busy loop is no longer interrupted
for each event: the helper catches up with all of them when it runs. Measured with
``benchmarks/run_overhead.sh`` (benchmarks/README.md, "Helper threads"): ~+30% requests/s on one
core, lower p99.

Anywhere this cannot be set (another OS, a sandbox refusing it) nothing changes.
"""

from __future__ import annotations

import os
from pathlib import Path

_TASKS = Path("/proc/self/task")


def yield_to_loop(thread_id: int = 0) -> bool:
    """Make one thread (a kernel thread id; 0: the calling thread) a batch thread. True if set."""
    setter = getattr(os, "sched_setscheduler", None)
    batch = getattr(os, "SCHED_BATCH", None)
    if setter is None or batch is None:
        return False
    try:
        setter(thread_id, batch, os.sched_param(0))
    except OSError:
        return False
    return True


def threads_named(name: str) -> list[int]:
    """Kernel thread ids of this process's threads called ``name`` (Linux; [] elsewhere)."""
    ids = []
    try:
        tasks = list(_TASKS.iterdir())
    except OSError:
        return []
    for task in tasks:
        try:
            if (task / "comm").read_text().strip() == name:
                ids.append(int(task.name))
        except (OSError, ValueError):
            continue  # the thread ended while we looked
    return ids
