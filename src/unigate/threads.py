"""Helper threads yield the CPU to the event loop's thread.

The gateway's Python work all runs on the event loop's thread; its helper threads (the upstream
client's I/O runtime, the request-log writer) only move bytes. With the default policy a helper
woken by the kernel preempts the loop at once: under load on one core the upstream client's
thread woke ~3 times per request and the loop was switched out each time (~190,000 context
switches in 10 s). As ``SCHED_BATCH`` threads (Linux) they still run whenever the loop waits
for I/O, so an idle gateway answers as fast as before, but a busy loop is no longer interrupted
for each event: the helper catches up with all of them when it runs. Measured with
``benchmarks/run_overhead.sh`` (benchmarks/README.md, "Helper threads"): ~+30% requests/s on one
core, lower p99. The upstream client's thread is one only while several calls are in flight
(:class:`BusyBatch`): an idle loop is better served by a helper that runs at once.

Anywhere this cannot be set (another OS, a sandbox refusing it) nothing changes.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

_TASKS = Path("/proc/self/task")


def yield_to_loop(thread_id: int = 0) -> bool:
    """Make one thread (a kernel thread id; 0: the calling thread) a batch thread. True if set."""
    return _set_policy(thread_id, "SCHED_BATCH")


def _set_policy(thread_id: int, policy: str) -> bool:
    setter = getattr(os, "sched_setscheduler", None)
    value = getattr(os, policy, None)
    if setter is None or value is None:
        return False
    try:
        setter(thread_id, value, os.sched_param(0))
    except OSError:
        return False
    return True


class BusyBatch:
    """Threads that are batch threads only while the loop is busy.

    With one request in flight the loop has nothing to do while it waits, and a batch thread
    runs only once the loop's own remaining work is done: the upstream call went out later and
    one connection's p50 grew by ~0.06 ms. So these threads stay normal until ``busy`` requests
    are being served at once, and become normal again when a request starts with at most
    ``idle`` in flight and none was busy for ``linger`` seconds. A saturated loop serves its
    connections in waves (every answer sent, then every next request read), so the count
    touches zero many times a second under full load; without the linger the threads spent
    ~13% of such a run as normal threads. A switch is one system call per thread.

    The server counts requests (``enter``/``leave``); upstream calls would not do: on a
    saturated loop few of them are in flight at once, most requests wait for the loop itself."""

    __slots__ = ("_batch", "_busy", "_busy_at", "_idle", "_in_flight", "_linger", "threads")

    def __init__(self, busy: int = 4, idle: int = 1, linger: float = 0.1) -> None:
        self.threads: list[int] = []
        self._busy, self._idle, self._linger = busy, idle, linger
        self._in_flight = 0
        self._busy_at = 0.0
        self._batch = False

    @property
    def batch(self) -> bool:
        return self._batch

    def attach(self, threads: list[int]) -> None:
        """Follow the load with these threads from now on (their policy is set at once)."""
        self.threads = threads
        self._switch(self._batch)

    def enter(self) -> None:
        self._in_flight += 1
        if self._in_flight >= self._busy:
            self._busy_at = time.monotonic()
            if not self._batch:
                self._switch(True)
        elif self._batch and self._in_flight <= self._idle and time.monotonic() - self._busy_at > self._linger:
            self._switch(False)

    def leave(self) -> None:
        self._in_flight -= 1

    def _switch(self, batch: bool) -> None:
        self._batch = batch
        policy = "SCHED_BATCH" if batch else "SCHED_OTHER"
        for thread in self.threads:
            _set_policy(thread, policy)


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


# the process's helper threads that follow the server's load (the upstream client's I/O thread)
BUSY_HELPERS = BusyBatch()
