"""The state host of `unigate serve --workers N` and its workers' links, beyond the shared suite
(conftest.py runs every backend test over a link too): several workers at once, lost
connections, the ledger queue's single consumer, and the journal the host owns."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from unigate.state.base import BalanceCheck, Charge, WindowCheck
from unigate.state.host import HostThread, StateHost
from unigate.state.link import SharedState, StateLink, StateLinkError
from unigate.state.memory import MemoryState
from unigate.state.wire import FrameReader, frame


@pytest.fixture
async def host(tmp_path: Path) -> AsyncIterator[StateHost]:
    served = StateHost(tmp_path / "s.sock", MemoryState(tmp_path / "journal"))
    await served.start()
    yield served
    await served.aclose()


def worker(host: StateHost) -> SharedState:
    return SharedState(StateLink(host.path))


async def test_workers_share_one_budget_and_one_rate_limit_exactly(host: StateHost) -> None:
    workers = [worker(host) for _ in range(4)]
    await workers[0].init_counter("budget", 0)

    async def request(n: int) -> bool:
        state = workers[n % 4]
        admission = await state.admit(
            f"h{n}", 30, windows=[WindowCheck("rpm", 150, 60)], balances=[BalanceCheck("budget", 1000, 10)]
        )
        if admission.ok:
            await state.settle(f"h{n}", charges=[Charge("budget", 7)])
        return admission.ok

    admitted = sum(await asyncio.gather(*(request(n) for n in range(400))))
    counter = await workers[1].counter("budget")
    assert counter is not None
    assert admitted == 142  # 10 reserved per request, 7 charged: the budget runs out at 142 (994 + 10 > 1000)
    assert (counter.spent, counter.reserved) == (admitted * 7, 0)
    assert await workers[2].window_total("rpm", 60) == admitted
    for state in workers:
        await state.aclose()


async def test_a_queued_record_goes_to_one_worker_until_that_worker_dies(host: StateHost) -> None:
    first, second = worker(host), worker(host)
    for n in range(5):
        await first.settle(f"h{n}", record=("ledger", b"%d" % n))
    taken = await first.queue_read("ledger", "a", 3)
    assert [record for _, record in taken] == [b"0", b"1", b"2"]
    assert [record for _, record in await second.queue_read("ledger", "b", 10)] == [b"3", b"4"]
    assert [record for _, record in await first.queue_read("ledger", "a", 10)] == [b"0", b"1", b"2"]  # retried
    await first.queue_ack("ledger", [taken[0][0]])
    await first.aclose()  # a worker that died mid-batch: its unacknowledged records go to another
    await asyncio.sleep(0.05)
    again = await second.queue_read("ledger", "b", 10)
    assert [record for _, record in again] == [b"1", b"2", b"3", b"4"]
    await second.queue_ack("ledger", [rid for rid, _ in again])
    assert await second.queue_len("ledger") == 0
    await second.aclose()


async def test_a_settled_record_is_journaled_by_the_host(tmp_path: Path, host: StateHost) -> None:
    state = worker(host)
    await state.settle("h", charges=[Charge("k", 5)], record=("ledger", b'{"request_id": "r1"}'))
    await state.aclose()  # the worker goes away; the host's journal has the record
    await host.state.aclose()
    again = MemoryState(tmp_path / "journal")
    assert [record for _, record in await again.queue_read("ledger", "c", 10)] == [b'{"request_id": "r1"}']
    await again.aclose()


async def test_a_lost_connection_fails_what_was_in_flight_and_the_next_call_reconnects(host: StateHost) -> None:
    state = worker(host)
    await state.set("v", b"1")
    for connection in list(host.connections):
        assert connection.transport is not None
        connection.transport.close()
    await asyncio.sleep(0.05)
    assert await state.get("v") == b"1"  # connected again
    pending = asyncio.ensure_future(state.get("v"))
    await asyncio.sleep(0)  # queued, not yet answered
    for connection in list(host.connections):
        assert connection.transport is not None
        connection.transport.abort()
    with pytest.raises(StateLinkError):
        await pending
    await state.aclose()


async def test_a_refused_operation_is_an_error_for_its_caller_only(host: StateHost) -> None:
    state = worker(host)
    with pytest.raises(StateLinkError, match="unknown"):
        await state.link.call("no-such-op")
    with pytest.raises(StateLinkError, match="TypeError"):
        await state.link.call("get")  # missing argument
    assert await state.incr("n") == 1


async def test_no_host_is_a_clear_error(tmp_path: Path) -> None:
    state = SharedState(StateLink(tmp_path / "absent.sock"))
    with pytest.raises(StateLinkError, match="cannot reach the state host"):
        await state.get("x")


def test_the_host_runs_in_a_thread_and_removes_its_socket(tmp_path: Path) -> None:
    thread = HostThread.for_journal(tmp_path / "journal")
    thread.start()
    path = thread.host.path
    assert path.exists() and oct(path.stat().st_mode & 0o777) == "0o600"
    assert oct(path.parent.stat().st_mode & 0o777) == "0o700"

    async def use() -> int:
        state = SharedState(StateLink(path))
        value = await state.incr("n", 3)
        await state.aclose()
        return value

    assert asyncio.run(use()) == 3
    thread.stop()
    assert not path.parent.exists()


def test_frames_split_or_joined_in_any_way_read_back_the_same() -> None:
    messages = [(1, "set", ("k", b"\x00\xff" * 300, None)), (2, True, None), (0, "circuit", ("d", None))]
    stream = b"".join(frame(m) for m in messages)
    for step in (1, 3, 7, len(stream)):
        reader = FrameReader()
        out = []
        for start in range(0, len(stream), step):
            out += reader.feed(stream[start : start + step])
        assert out == messages
    with pytest.raises(ValueError):
        FrameReader().feed(b"\xff\xff\xff\xff")
