"""One batch runner among replicas on PostgreSQL (127.0.0.1:5432, a scratch database): the
advisory lock is held by one process at a time and released when its connection dies; two
gateway replicas on one database never run the same line twice, and when the runner is killed
the other takes over and finishes the batch."""

from __future__ import annotations

import asyncio
import json
import signal
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
from sqlalchemy import text

from tests.accounts.conftest import pg_url  # noqa: F401  (the scratch database fixture)
from tests.conftest import openai_model
from tests.server.test_batches_api import chat_line, jsonl, wait_done
from tests.support.fake_upstream import FakeUpstream, Mode, ThreadedUpstream
from tests.support.gateway_process import GatewayProcess
from unigate.accounts.db import create_engine
from unigate.batches.lock import AdvisoryLock, runner_lock
from unigate.config import GatewayConfig


def test_advisory_lock_is_exclusive_and_dies_with_its_connection(pg_url: str, tmp_path: Path) -> None:  # noqa: F811
    async def scenario() -> None:
        engine = create_engine(GatewayConfig(database_url=pg_url, data_dir=str(tmp_path)))
        try:
            first, second = runner_lock(engine, tmp_path), AdvisoryLock(engine)
            assert isinstance(first, AdvisoryLock)
            assert await first.acquire() and await first.held()
            assert not await second.acquire()
            # the database drops the holder's session (a dead replica, a network cut)
            async with engine.connect() as admin:
                await admin.execute(
                    text("SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND objid = :id"),
                    {"id": first.lock_id},
                )
                await admin.commit()
            assert not await first.held()
            assert await second.acquire()
            assert not await first.acquire()
            await second.release()
            assert await first.acquire()
            await first.release()
        finally:
            await engine.dispose()

    asyncio.run(scenario())


@pytest.fixture
def upstream_slow() -> Iterator[ThreadedUpstream]:
    threaded = ThreadedUpstream(FakeUpstream(default=Mode(delay=0.05)))
    yield threaded
    threaded.stop()


def texts(upstream: ThreadedUpstream) -> Counter[str]:
    return Counter(call.body["messages"][-1]["content"] for call in upstream.chat_calls())


def test_two_replicas_run_each_line_once(
    pg_url: str,  # noqa: F811
    tmp_path: Path,
    upstream_slow: ThreadedUpstream,
    start_gateway: Callable[..., GatewayProcess],
) -> None:
    config: dict[str, Any] = {
        "discover_providers": False,
        "local_model": {"enabled": False},
        "database_url": pg_url,
        "data_dir": str(tmp_path / "shared"),  # files live on storage the replicas share
        "models": [openai_model("gpt-4o-mini", upstream_slow.base_url)],
        "batches": {"concurrency": 2, "interactive_concurrency": 2},
    }
    first = start_gateway(config)
    second = start_gateway(config, env={"UNIGATE_LOG_LEVEL": "INFO"})
    clients = [openai.OpenAI(base_url=g.base_url, api_key="unused", max_retries=0) for g in (first, second)]

    # both alive: created on one, run by whichever holds the lock, each line sent once
    uploaded = clients[1].files.create(file=("a.jsonl", jsonl([chat_line(i) for i in range(40)])), purpose="batch")
    batch = clients[1].batches.create(
        input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h"
    )
    done = wait_done(clients[0], batch.id)
    assert done.status == "completed" and done.request_counts.completed == 40
    assert texts(upstream_slow) == Counter(f"question {i}" for i in range(40))

    # the runner killed mid-batch: the other replica takes the lock and finishes it
    lines = [{**chat_line(i), "custom_id": f"b-{i}"} for i in range(100, 160)]
    for line in lines:
        line["body"]["messages"][0]["content"] = f"second {line['custom_id']}"
    uploaded = clients[1].files.create(file=("b.jsonl", jsonl(lines)), purpose="batch")
    batch = clients[1].batches.create(
        input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h"
    )
    deadline = time.monotonic() + 60
    while clients[1].batches.retrieve(batch.id).request_counts.completed < 10:
        assert time.monotonic() < deadline, "the batch made no progress"
        time.sleep(0.05)
    first.stop(sig=signal.SIGKILL)  # the first replica started first, so it holds the lock
    done = wait_done(clients[1], batch.id)
    assert done.status == "completed" and done.request_counts.completed == 60
    output = [json.loads(row) for row in clients[1].files.content(done.output_file_id or "").text.splitlines()]
    assert Counter(r["custom_id"] for r in output) == Counter(line["custom_id"] for line in lines)
    assert "this process now runs the batches" in second.log_path.read_text()  # it took over
    sent = Counter(t for t in texts(upstream_slow).elements() if t.startswith("second "))
    assert set(sent) == {f"second b-{i}" for i in range(100, 160)}
    assert sum(n - 1 for n in sent.values()) <= 2  # at most the lines in flight at the kill
