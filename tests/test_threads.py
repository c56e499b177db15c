"""Helper threads as batch threads (Linux): a thread asking for itself, threads that follow the
server's load (the upstream client's I/O thread), and the request-log writer."""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from unigate.observability.logs import LogSetup
from unigate.providers.upstream import Upstream
from unigate.threads import BUSY_HELPERS, BusyBatch, threads_named, yield_to_loop

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="scheduling policies are Linux's")


def policy_of(thread_id: int) -> int:
    return os.sched_getscheduler(thread_id)


def test_a_thread_can_make_itself_a_batch_thread():
    seen: dict[str, int] = {}

    def work() -> None:
        seen["set"] = yield_to_loop()
        seen["policy"] = policy_of(threading.get_native_id())

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    assert seen == {"set": True, "policy": os.SCHED_BATCH}
    assert policy_of(0) == os.SCHED_OTHER  # the caller's own thread is untouched


def test_threads_are_found_by_their_kernel_name():
    assert threading.get_native_id() in threads_named(Path("/proc/thread-self/comm").read_text().strip())
    assert threads_named("no-such-thread-name") == []


def test_the_upstream_clients_io_thread_follows_the_servers_load():
    upstream = Upstream()
    upstream._client(5.0, None)
    found = threads_named("pyreqwest")
    assert found, "the client's runtime thread was not found"
    assert BUSY_HELPERS.threads == found
    expected = os.SCHED_BATCH if BUSY_HELPERS.batch else os.SCHED_OTHER  # as the server's load is now
    assert all(policy_of(t) == expected for t in found)


@pytest.fixture
def helper() -> Iterator[int]:
    """A thread that only waits: its kernel thread id."""
    done = threading.Event()
    thread = threading.Thread(target=done.wait, daemon=True)
    thread.start()
    assert thread.native_id is not None
    yield thread.native_id
    done.set()
    thread.join()


def test_helpers_are_batch_threads_only_while_busy(helper):
    load = BusyBatch(busy=3, idle=1, linger=0.0)
    load.attach([helper])
    load.enter()
    load.enter()
    assert policy_of(helper) == os.SCHED_OTHER  # two at once: not busy yet
    load.enter()
    assert load.batch and policy_of(helper) == os.SCHED_BATCH
    for _ in range(3):
        load.leave()
    assert policy_of(helper) == os.SCHED_BATCH  # the next request decides
    load.enter()
    assert not load.batch and policy_of(helper) == os.SCHED_OTHER


def test_a_busy_loop_that_empties_between_waves_stays_batch_within_the_linger(helper):
    load = BusyBatch(busy=2, idle=1, linger=60.0)
    load.attach([helper])
    load.enter()
    load.enter()
    load.leave()
    load.leave()
    load.enter()  # in-flight fell to none and rose again: still the same busy period
    assert policy_of(helper) == os.SCHED_BATCH


def test_threads_attached_while_busy_get_the_current_policy(helper):
    load = BusyBatch(busy=1, idle=0, linger=60.0)
    load.enter()  # busy before the client (and its thread) existed
    load.attach([helper])
    assert policy_of(helper) == os.SCHED_BATCH


def test_the_request_log_writer_is_a_batch_thread():
    setup = LogSetup(fmt="json", level="WARNING")
    try:
        writer = setup._writer
        for _ in range(200):  # the policy is set by the thread itself as it starts
            if writer.native_id is not None and policy_of(writer.native_id) == os.SCHED_BATCH:
                break
            threading.Event().wait(0.01)
        assert writer.native_id is not None and policy_of(writer.native_id) == os.SCHED_BATCH
    finally:
        setup.close()
