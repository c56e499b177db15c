"""Helper threads as batch threads (Linux): a thread asking for itself, the upstream client's
I/O thread once a client is built, and the request-log writer."""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

import pytest

from unigate.observability.logs import LogSetup
from unigate.providers.upstream import Upstream
from unigate.threads import threads_named, yield_to_loop

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


def test_the_upstream_clients_io_thread_is_a_batch_thread():
    upstream = Upstream()
    upstream._client(5.0, None)
    found = threads_named("pyreqwest")
    assert found, "the client's runtime thread was not found"
    assert all(policy_of(t) == os.SCHED_BATCH for t in found)


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
