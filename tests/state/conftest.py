"""Every state backend runs the same suite: the in-process one, the state host of `unigate serve
--workers N` reached over its Unix socket, and a real Redis on loopback."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from unigate.state import StateBackend
from unigate.state.host import StateHost
from unigate.state.link import SharedState, StateLink
from unigate.state.memory import MemoryState

REDIS_URL = "redis://127.0.0.1:6379/0"


async def flush_prefix(url: str, prefix: str) -> None:
    from redis.asyncio import Redis

    client = Redis.from_url(url)
    try:
        keys = [key async for key in client.scan_iter(match=prefix + "*", count=1000)]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


@pytest.fixture(params=["memory", "shared", "redis"])
async def state(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[StateBackend]:
    if request.param == "memory":
        backend: StateBackend = MemoryState(tmp_path / "journal")
        yield backend
        await backend.aclose()
        return
    if request.param == "shared":
        host = StateHost(tmp_path / "state.sock", MemoryState(tmp_path / "journal"))
        await host.start()
        shared = SharedState(StateLink(tmp_path / "state.sock"))
        yield shared
        await shared.aclose()
        await host.aclose()
        return
    from unigate.state.redis import RedisState

    prefix = f"ugtest:{uuid.uuid4().hex[:8]}:"
    redis_backend = RedisState(REDIS_URL, prefix, claim_idle=0.2)
    yield redis_backend
    await redis_backend.aclose()
    await flush_prefix(REDIS_URL, prefix)
