"""The state contract, run over every backend (memory and Redis): the same inputs, the same answers."""

from __future__ import annotations

import asyncio

from unigate.state import BalanceCheck, Charge, SemaphoreCheck, StateBackend, WindowAdd, WindowCheck


async def test_window_admits_up_to_the_limit_then_reports_when_the_oldest_leaves(state: StateBackend) -> None:
    check = WindowCheck("k:rpm", limit=3, window=60.0)
    results = [await state.admit(f"h{i}", 5, windows=[check]) for i in range(4)]
    assert [r.ok for r in results] == [True, True, True, False]
    refused = results[-1]
    assert refused.kind == "window" and refused.index == 0
    assert refused.retry_after is not None and 58.0 <= refused.retry_after <= 60.0
    assert await state.window_total("k:rpm", 60.0) == 3


async def test_window_slides(state: StateBackend) -> None:
    check = WindowCheck("k:fast", limit=2, window=0.6)
    assert (await state.admit("a", 5, windows=[check])).ok
    assert (await state.admit("b", 5, windows=[check])).ok
    refused = await state.admit("c", 5, windows=[check])
    assert not refused.ok and refused.retry_after is not None and refused.retry_after <= 0.6
    await asyncio.sleep(0.7)
    assert (await state.admit("d", 5, windows=[check])).ok


async def test_weighted_window_and_unrecorded_checks(state: StateBackend) -> None:
    tpm = WindowCheck("k:tpm", limit=100, window=60.0, amount=40, record=False)
    assert (await state.admit("a", 5, windows=[tpm])).ok
    assert await state.window_total("k:tpm", 60.0) == 0  # checked, not recorded
    await state.settle("a", windows=[WindowAdd("k:tpm", 60.0, 70)])
    refused = await state.admit("b", 5, windows=[tpm])
    assert not refused.ok and refused.kind == "window"
    assert (await state.admit("c", 5, windows=[WindowCheck("k:tpm", 100, 60.0, amount=30, record=False)])).ok


async def test_admission_is_all_or_nothing(state: StateBackend) -> None:
    await state.init_counter("bal", 0)
    ok_window = WindowCheck("w:ok", limit=10, window=60.0)
    full_window = WindowCheck("w:full", limit=0, window=60.0)
    result = await state.admit("h", 5, windows=[ok_window, full_window], balances=[BalanceCheck("bal", 100, 10)])
    assert not result.ok and result.kind == "window" and result.index == 1
    assert await state.window_total("w:ok", 60.0) == 0
    counter = await state.counter("bal")
    assert counter is not None and counter.reserved == 0
    # a failing balance leaves the windows untouched too
    result = await state.admit("h", 5, windows=[ok_window], balances=[BalanceCheck("bal", 100, 101)])
    assert not result.ok and result.kind == "balance" and result.available == 100
    assert await state.window_total("w:ok", 60.0) == 0


async def test_missing_counter_is_reported_then_seeded_once(state: StateBackend) -> None:
    result = await state.admit("h", 5, balances=[BalanceCheck("a", 10, 1), BalanceCheck("b", 10, 1)])
    assert not result.ok and result.kind == "missing" and result.missing == [0, 1]
    await state.init_counter("a", 3)
    await state.init_counter("a", 0)  # a later load never rewinds what is already there
    await state.init_counter("b", 0)
    counter = await state.counter("a")
    assert counter is not None and counter.spent == 3
    assert (await state.admit("h", 5, balances=[BalanceCheck("a", 10, 7), BalanceCheck("b", 10, 1)])).ok
    refused = await state.admit("i", 5, balances=[BalanceCheck("a", 10, 1)])
    assert not refused.ok and refused.available == 0


async def test_reserve_then_settle_charges_actual_and_releases_the_rest(state: StateBackend) -> None:
    await state.init_counter("key", 0)
    assert (await state.admit("r1", 5, balances=[BalanceCheck("key", 1000, 600)])).ok
    refused = await state.admit("r2", 5, balances=[BalanceCheck("key", 1000, 500)])
    assert not refused.ok and refused.available == 400
    await state.settle("r1", charges=[Charge("key", 250)])
    counter = await state.counter("key")
    assert counter is not None and (counter.spent, counter.reserved) == (250, 0)
    assert (await state.admit("r2", 5, balances=[BalanceCheck("key", 1000, 750)])).ok


async def test_concurrent_reservations_never_overspend(state: StateBackend) -> None:
    await state.init_counter("pool", 0)
    cost, limit = 7, 7 * 25

    async def one(i: int) -> bool:
        admitted = await state.admit(f"c{i}", 5, balances=[BalanceCheck("pool", limit, cost)])
        if admitted.ok:
            await asyncio.sleep(0.01)
            await state.settle(f"c{i}", charges=[Charge("pool", cost)])
        return admitted.ok

    results = await asyncio.gather(*(one(i) for i in range(200)))
    assert sum(results) == 25
    counter = await state.counter("pool")
    assert counter is not None and (counter.spent, counter.reserved) == (limit, 0)


async def test_reservations_and_slots_of_a_dead_holder_expire_unless_refreshed(state: StateBackend) -> None:
    await state.init_counter("key", 0)
    sem = SemaphoreCheck("conc", limit=1)
    assert (await state.admit("dead", 0.4, semaphores=[sem], balances=[BalanceCheck("key", 100, 100)])).ok
    assert (await state.admit("live", 0.4, balances=[BalanceCheck("key", 200, 100)])).ok
    refused = await state.admit("other", 5, semaphores=[sem])
    assert not refused.ok and refused.kind == "semaphore"
    assert refused.retry_after is not None and refused.retry_after <= 0.4
    await asyncio.sleep(0.25)
    await state.refresh("live", 0.6, [], ["key"])
    await asyncio.sleep(0.25)  # "dead" has expired, "live" was extended
    counter = await state.counter("key")
    assert counter is not None and counter.reserved == 100
    assert (await state.admit("other", 5, semaphores=[sem])).ok
    await state.settle("other", semaphores=["conc"])
    assert (await state.admit("next", 5, semaphores=[sem])).ok


async def test_semaphore_limits_concurrency(state: StateBackend) -> None:
    sem = SemaphoreCheck("s", limit=2)
    assert (await state.admit("a", 5, semaphores=[sem])).ok
    assert (await state.admit("b", 5, semaphores=[sem])).ok
    assert not (await state.admit("c", 5, semaphores=[sem])).ok
    await state.settle("a", semaphores=["s"])
    assert (await state.admit("c", 5, semaphores=[sem])).ok


async def test_period_counter_expires(state: StateBackend) -> None:
    await state.init_counter("day", 50, expire=0.3)
    assert await state.counter("day") is not None
    await asyncio.sleep(0.4)
    assert await state.counter("day") is None


async def test_settle_appends_its_record_to_a_queue_read_then_acknowledged(state: StateBackend) -> None:
    await state.init_counter("k", 0)
    for i in range(5):
        assert (await state.admit(f"h{i}", 5, balances=[BalanceCheck("k", 100, 1)])).ok
        await state.settle(f"h{i}", charges=[Charge("k", 1)], record=("ledger", b'{"n": %d}' % i))
    assert await state.queue_len("ledger") == 5
    first = await state.queue_read("ledger", "c1", 3)
    assert [r for _, r in first] == [b'{"n": 0}', b'{"n": 1}', b'{"n": 2}']
    await state.queue_ack("ledger", [rid for rid, _ in first])
    rest = await state.queue_read("ledger", "c1", 10)
    assert [r for _, r in rest] == [b'{"n": 3}', b'{"n": 4}']
    # not acknowledged: delivered again
    again = await state.queue_read("ledger", "c1", 10)
    assert [r for _, r in again] == [b'{"n": 3}', b'{"n": 4}']
    await state.queue_ack("ledger", [rid for rid, _ in again])
    assert await state.queue_read("ledger", "c1", 10) == []
    assert await state.queue_len("ledger") == 0


async def test_values_with_ttl_and_incr(state: StateBackend) -> None:
    await state.set("cool", b"1", ttl=0.3)
    assert await state.get("cool") == b"1"
    assert await state.incr("n") == 1
    assert await state.incr("n", 5) == 6
    await asyncio.sleep(0.4)
    assert await state.get("cool") is None
    await state.delete("n")
    assert await state.get("n") is None
