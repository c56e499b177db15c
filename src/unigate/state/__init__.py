"""Shared state: counters, reservations, windows, semaphores, queues — one interface, two backends.

``open_state(config)`` picks Redis when ``redis_url`` is set, the state host of ``unigate serve
--workers N`` when given a link to it (``state/host.py``, ``state/link.py``), and the in-process
backend otherwise. The composition root opens one and gives it to every part that shares state.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from unigate.state.base import (
    Admission,
    BalanceCheck,
    Charge,
    Counter,
    SemaphoreCheck,
    StateBackend,
    WindowAdd,
    WindowCheck,
)

__all__ = [
    "Admission",
    "BalanceCheck",
    "Charge",
    "Counter",
    "SemaphoreCheck",
    "StateBackend",
    "WindowAdd",
    "WindowCheck",
    "open_state",
]


def open_state(config: Any, link: Any = None) -> StateBackend:
    """The backend for a GatewayConfig: Redis if ``redis_url`` is set, else the state host behind
    ``link`` (a :class:`~unigate.state.link.StateLink`), else in-process (journaled under
    ``data_dir/journal``)."""
    accounts = getattr(config, "accounts", None)
    prefix = getattr(accounts, "redis_prefix", "unigate:")
    if config.redis_url:
        from unigate.state.redis import RedisState

        return RedisState(config.redis_url, prefix, claim_idle=getattr(accounts, "queue_claim_idle", 30.0))
    if link is not None:
        from unigate.state.link import SharedState

        return SharedState(link)
    from unigate.state.memory import MemoryState

    return MemoryState(Path(config.data_dir) / "journal")
