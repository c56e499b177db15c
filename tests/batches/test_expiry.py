"""The completion window and file expiry, through the ``openai`` SDK: a batch still running when
its window ends stops there and ends ``expired`` with its unanswered lines in the error file (as
OpenAI writes them); a file uploaded with ``expires_after`` is gone once it expires."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import openai
import pytest

from tests.conftest import openai_model
from tests.server.test_batches_api import chat_line, jsonl, wait_done
from tests.support.fake_upstream import Mode, ThreadedUpstream
from tests.support.gateway_process import GatewayProcess


def database(gateway: GatewayProcess) -> Path:
    return Path(gateway.config["data_dir"]) / "unigate.db"


def expire_now(gateway: GatewayProcess, table: str, row_id: str) -> None:
    """Move a batch's or file's expiry into the past (the test cannot wait 24 hours)."""
    with sqlite3.connect(database(gateway), timeout=30) as db:
        db.execute(f"UPDATE {table} SET expires_at = ? WHERE id = ?", (time.time() - 1, row_id))


@pytest.fixture
def gateway(start_gateway: Callable[..., GatewayProcess], make_upstream: Callable[..., ThreadedUpstream]) -> Any:
    slow = make_upstream(Mode(delay=0.2))
    process = start_gateway(
        {
            "discover_providers": False,
            "models": [openai_model("gpt-4o-mini", slow.base_url)],
            "batches": {"concurrency": 1, "interactive_concurrency": 1},
        }
    )
    process.config["data_dir"] = str(process.workdir / "data")
    return process


def test_a_batch_past_its_window_ends_expired(gateway: GatewayProcess) -> None:
    client = openai.OpenAI(base_url=gateway.base_url, api_key="unused", max_retries=0)
    uploaded = client.files.create(file=("in.jsonl", jsonl([chat_line(i) for i in range(30)])), purpose="batch")
    batch = client.batches.create(input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h")
    assert batch.expires_at is not None and batch.expires_at - batch.created_at == 24 * 3600
    deadline = time.monotonic() + 60
    while client.batches.retrieve(batch.id).request_counts.completed < 2:
        assert time.monotonic() < deadline, "the batch made no progress"
        time.sleep(0.05)
    expire_now(gateway, "unigate_batches", batch.id)

    done = wait_done(client, batch.id)
    assert done.status == "expired" and done.expired_at is not None
    answered = done.request_counts.completed
    assert 2 <= answered < 30 and done.request_counts.failed == 30 - answered
    output = [json.loads(row) for row in client.files.content(done.output_file_id or "").text.splitlines()]
    unrun = [json.loads(row) for row in client.files.content(done.error_file_id or "").text.splitlines()]
    assert len(output) == answered and len(unrun) == 30 - answered
    assert {r["custom_id"] for r in output} | {r["custom_id"] for r in unrun} == {f"req-{i}" for i in range(30)}
    assert all(r["response"] is None and r["error"]["code"] == "batch_expired" for r in unrun)


def test_files_expire(gateway: GatewayProcess) -> None:
    client = openai.OpenAI(base_url=gateway.base_url, api_key="unused", max_retries=0)
    data = jsonl([chat_line(1)])
    kept = client.files.create(file=("kept.jsonl", data), purpose="batch")
    assert kept.expires_at is None
    leaving = client.files.create(
        file=("leaving.jsonl", data), purpose="batch", expires_after={"anchor": "created_at", "seconds": 3600}
    )
    assert leaving.expires_at == leaving.created_at + 3600
    for bad in ({"anchor": "created_at", "seconds": 10}, {"anchor": "last_used", "seconds": 3600}):
        with pytest.raises(openai.BadRequestError):
            client.files.create(file=("x.jsonl", data), purpose="batch", expires_after=bad)  # type: ignore[arg-type]

    expire_now(gateway, "unigate_files", leaving.id)
    with pytest.raises(openai.NotFoundError):
        client.files.retrieve(leaving.id)
    assert [f.id for f in client.files.list()] == [kept.id]
    stored = Path(gateway.config["data_dir"]) / "files" / leaving.id
    deadline = time.monotonic() + 30
    while stored.exists():  # the runner's sweep deletes the bytes too
        assert time.monotonic() < deadline, "the expired file was never deleted"
        time.sleep(0.1)
    assert client.files.retrieve(kept.id).id == kept.id
