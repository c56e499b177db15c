"""The in-process backend's journal: settled records survive the process and are delivered again."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from unigate.state import Charge
from unigate.state.memory import MemoryState, _Balance


async def test_unacknowledged_records_survive_a_restart(tmp_path: Path) -> None:
    first = MemoryState(tmp_path)
    for i in range(4):
        await first.settle(f"h{i}", charges=[Charge("k", 1)], record=("ledger", b"r%d" % i))
    delivered = await first.queue_read("ledger", "c", 2)
    await first.queue_ack("ledger", [rid for rid, _ in delivered])
    # killed here: no close, no flush
    second = MemoryState(tmp_path)
    again = [record for _, record in await second.queue_read("ledger", "c", 10)]
    # at least once: the unacknowledged ones, maybe with acknowledged ones of the same segment
    assert again[-2:] == [b"r2", b"r3"] and set(again) <= {b"r0", b"r1", b"r2", b"r3"}
    await second.queue_ack("ledger", [rid for rid, _ in await second.queue_read("ledger", "c", 10)])
    await second.aclose()
    assert list(tmp_path.glob("*.journal")) == []
    assert await MemoryState(tmp_path).queue_read("ledger", "c", 10) == []


async def test_a_torn_last_line_is_delivered_as_is(tmp_path: Path) -> None:
    (tmp_path / "ledger.00000000.journal").write_bytes(b'{"a": 1}\n{"b": ')
    state = MemoryState(tmp_path)
    assert [r for _, r in await state.queue_read("ledger", "c", 10)] == [b'{"a": 1}', b'{"b": ']


async def test_a_stuck_consumer_cannot_exhaust_memory_records_spill_to_the_journal(tmp_path: Path) -> None:
    state = MemoryState(tmp_path)
    queue = state._queue("ledger")
    queue.memory_limit = 100
    total = 3 * 1000 + 17
    for i in range(total):
        await state.settle(f"h{i}", record=("ledger", b"r%d" % i))
        if i % 400 == 0:  # a consumer that reads and fails (the database is away): nothing acknowledged
            await state.queue_read("ledger", "c", 50)
    assert await state.queue_len("ledger") == total
    # the memory limit, plus the one segment the consumer keeps reading (the reader rotated every 400)
    assert state.queue_memory("ledger") <= 100 + 401 < total
    # the backlog drains in order, every record exactly as written, memory bounded throughout
    seen: list[bytes] = []
    while batch := await state.queue_read("ledger", "c", 500):
        seen += [record for _, record in batch]
        await state.queue_ack("ledger", [rid for rid, _ in batch])
        assert state.queue_memory("ledger") <= 100 + 10_000
    assert seen == [b"r%d" % i for i in range(total)]
    assert await state.queue_len("ledger") == 0
    await state.aclose()
    assert list(tmp_path.glob("*.journal")) == []


async def test_queued_records_hold_only_their_own_bytes(tmp_path: Path) -> None:
    # orjson.dumps hands back bytes that keep its whole 4-8 KiB write buffer: held as they are,
    # a ledger backlog of 20,000 ~400-byte rows took ~160 MB
    state = MemoryState(tmp_path)

    def row(i: int) -> bytes:
        return orjson.dumps({"request_id": f"req_{i:030d}", "model": "gpt-4o-mini", "cost_nusd": i})

    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for i in range(200):
            await state.settle(f"h{i}", record=("ledger", row(i)))
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert held / 200 < 1024, f"{held / 200:.0f} bytes per queued record"
    assert [record for _, record in await state.queue_read("ledger", "c", 2)] == [row(0), row(1)]
    await state.aclose()


# -- the held sum of a spend counter ----------------------------------------------------------

_STEPS = st.lists(
    st.tuples(
        st.sampled_from(["hold", "release", "extend", "tick"]),
        st.integers(0, 5),  # holder
        st.integers(0, 1_000),  # amount
        st.floats(0, 40, allow_nan=False),  # seconds: expiry from now, or time passing
    ),
    max_size=60,
)


@settings(max_examples=300, deadline=None)
@given(_STEPS)
def test_the_held_sum_matches_the_live_holds(steps):
    """``reserved`` (a running sum, expired holds dropped once the earliest expiry passed)
    equals the sum of the holds that have not expired, whatever happens in between."""
    balance = _Balance(0, None)
    live: dict[str, tuple[int, float]] = {}
    now = 0.0
    for action, who, amount, seconds in steps:
        holder = f"h{who}"
        if action == "hold":
            balance.reserved(now)  # as in MemoryState.admit: expired holds are gone before a new one
            previous = live[holder][0] if holder in live else 0  # ``live`` keeps unexpired holds only
            live[holder] = (previous + amount, now + seconds)
            balance.hold(holder, amount, now + seconds)
        elif action == "release":
            live.pop(holder, None)
            balance.release(holder)
        elif action == "extend":
            if holder in live:  # a refresh only ever moves an expiry later
                later = max(live[holder][1], now + seconds)
                live[holder] = (live[holder][0], later)
                balance.extend(holder, later)
        else:
            now += seconds
        expected = sum(amount for amount, expiry in live.values() if expiry > now)
        assert balance.reserved(now) == expected
        live = {h: v for h, v in live.items() if v[1] > now}
