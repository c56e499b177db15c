"""Circuit breaking, with the same cases over the in-process store and a real Redis server."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.gateway_process import free_port
from unigate.routing.health import Health
from unigate.state.circuits import BreakerPolicy, MemoryHealthStore, RedisHealthStore
from unigate.state.host import StateHost
from unigate.state.link import SharedHealthStore, StateLink
from unigate.state.memory import MemoryState

POLICY = BreakerPolicy(allowed_fails=2, cooldown=10.0, max_cooldown=25.0, probe_timeout=5.0, failing_after=3)


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server not installed")
    port = free_port()
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--save", "", "--appendonly", "no"], stdout=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 10
    import socket

    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    yield f"redis://127.0.0.1:{port}/0"
    proc.terminate()
    proc.wait(5)


@pytest.fixture(params=["memory", "shared", "redis"])
async def health(request: Any, tmp_path: Path) -> AsyncIterator[Health]:
    host = None
    if request.param == "memory":
        store: Any = MemoryHealthStore()
    elif request.param == "shared":  # the workers' state host, over its socket
        host = StateHost(tmp_path / "s.sock", MemoryState())
        await host.start()
        store = SharedHealthStore(StateLink(tmp_path / "s.sock"))
    else:
        url = request.getfixturevalue("redis_url")
        store = RedisHealthStore.from_url(url, prefix=f"t{time.monotonic_ns()}", cache_ttl=0.0)
    h = Health(store)
    h.default_policy = POLICY
    clock = [1000.0]
    h.clock = lambda: clock[0]
    h.test_clock = clock  # type: ignore[attr-defined]
    yield h
    await h.aclose()
    if host is not None:
        await host.aclose()


async def test_trips_after_allowed_fails_and_probe_closes(health):
    clock = health.test_clock
    await health.failed("d", "UpstreamServerError", trip=False, retry_after=None)
    assert health.state("d") == "healthy" and await health.admit("d") == "ok"
    await health.failed("d", "UpstreamServerError", trip=False, retry_after=None)
    assert health.state("d") == "cooling_down"
    assert await health.admit("d") == "cooling"
    assert health.describe("d")["cooldown_until"].startswith("1970-01-01T00:16:50")
    clock[0] += 10.1
    assert await health.admit("d") == "probe"  # one probe at a time
    assert await health.admit("d") == "cooling"
    await health.succeeded("d")
    assert health.state("d") == "healthy" and await health.admit("d") == "ok"


async def test_failed_probe_reopens_for_longer_then_failing(health):
    clock = health.test_clock
    await health.failed("d", "UpstreamRateLimited", trip=True, retry_after=None)  # 429 trips at once
    assert health.state("d") == "cooling_down"
    clock[0] += 10.1
    assert await health.admit("d") == "probe"
    await health.failed("d", "UpstreamTimeout", trip=False, retry_after=None)
    clock[0] += 19.9
    assert await health.admit("d") == "cooling"  # second trip: 20 s
    clock[0] += 0.2
    assert await health.admit("d") == "probe"
    await health.failed("d", "UpstreamTimeout", trip=False, retry_after=None)
    assert health.state("d") == "failing"  # third trip in a row
    clock[0] += 25.1  # capped at max_cooldown
    assert await health.admit("d") == "probe"


async def test_retry_after_sets_the_cooldown_and_late_successes_do_not_close(health):
    clock = health.test_clock
    await health.failed("d", "UpstreamRateLimited", trip=True, retry_after=3.0)
    await health.succeeded("d")  # a request admitted before the trip finished fine
    assert health.state("d") == "cooling_down"
    clock[0] += 3.1
    assert await health.admit("d") == "probe"


async def test_redis_store_is_shared_between_replicas(redis_url):
    prefix = f"shared{time.monotonic_ns()}"
    one = Health(RedisHealthStore.from_url(redis_url, prefix=prefix, cache_ttl=0.0))
    two = Health(RedisHealthStore.from_url(redis_url, prefix=prefix, cache_ttl=0.0))
    try:
        await one.failed("d", "UpstreamRateLimited", trip=True, retry_after=30)
        assert await two.admit("d") == "cooling"
        assert two.state("d") == "cooling_down"
    finally:
        await one.aclose()
        await two.aclose()


async def test_state_host_shares_cooldowns_between_workers(tmp_path: Path) -> None:
    host = StateHost(tmp_path / "s.sock", MemoryState())
    await host.start()
    one = Health(SharedHealthStore(StateLink(tmp_path / "s.sock")))
    two = Health(SharedHealthStore(StateLink(tmp_path / "s.sock")))
    try:
        assert await two.admit("d") == "ok"  # connected before the cooldown opens: it is pushed
        await one.failed("d", "UpstreamRateLimited", trip=True, retry_after=30)
        for _ in range(100):  # the push is one socket hop behind the reply to `one`
            if two.state("d") == "cooling_down":
                break
            await asyncio.sleep(0.01)
        assert await two.admit("d") == "cooling"
        three = Health(SharedHealthStore(StateLink(tmp_path / "s.sock")))  # connects after: snapshot
        assert await three.admit("d") == "cooling"
        await three.aclose()
    finally:
        await one.aclose()
        await two.aclose()
        await host.aclose()
