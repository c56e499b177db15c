"""A 2,000-line batch over two providers (OpenAI and Anthropic wire formats) and the embedded
local model, with the gateway killed (SIGKILL) mid-run and started again: every line is
answered exactly once, and the key's recorded spend equals the ledger."""

from __future__ import annotations

import json
import signal
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from tests.support.agent_upstream import AgentUpstream
from tests.support.fake_upstream import FakeUpstream, Mode, ThreadedUpstream
from tests.support.gateway_process import GatewayProcess

LINES = 2000
LOCAL_LINES = (100, 700, 1300, 1900)  # the local model is slow on two cores: a small share
CONCURRENCY = 16
MASTER = "sk-master"


@pytest.fixture
def upstreams() -> Iterator[tuple[ThreadedUpstream, ThreadedUpstream]]:
    openai_side = ThreadedUpstream(FakeUpstream(default=Mode(delay=0.01), name="openai"))
    anthropic_side = ThreadedUpstream(AgentUpstream())  # type: ignore[arg-type]
    yield openai_side, anthropic_side
    openai_side.stop()
    anthropic_side.stop()


def line(i: int) -> dict[str, Any]:
    if i in LOCAL_LINES:
        model, extra = "local/smollm2-135m", {"max_tokens": 3, "temperature": 0}
    else:
        model, extra = ("gpt-4o-mini" if i % 2 else "claude-haiku-4-5"), {"max_tokens": 50}
    return {
        "custom_id": f"line-{i}",
        "method": "POST",
        "url": "/v1/chat/completions",
        "body": {"model": model, "messages": [{"role": "user", "content": f"question {i}"}], **extra},
    }


def test_killed_mid_run_and_restarted(tmp_path: Path, upstreams: tuple[ThreadedUpstream, ThreadedUpstream]) -> None:
    openai_side, anthropic_side = upstreams
    config = {
        "discover_providers": False,
        "server": {"master_key": MASTER},
        "local_model": {"enabled": True},
        "batches": {"concurrency": CONCURRENCY, "interactive_concurrency": CONCURRENCY},
        "models": [
            {
                "name": "gpt-4o-mini",
                "deployments": [
                    {"provider": "openai", "model": "gpt-4o-mini", "api_base": openai_side.base_url, "api_key": "sk-a"}
                ],
            },
            {
                "name": "claude-haiku-4-5",
                "deployments": [
                    {
                        "provider": "anthropic",
                        "model": "claude-haiku-4-5",
                        "api_base": anthropic_side.url,
                        "api_key": "sk-b",
                    }
                ],
            },
        ],
    }
    first = GatewayProcess(config=config, workdir=tmp_path).start(timeout=120)
    admin = {"authorization": f"Bearer {MASTER}"}
    created = httpx.post(f"{first.url}/admin/keys", json={"name": "bulk", "credit": 100}, headers=admin).json()
    key_id, secret = created["id"], created["key"]
    client = openai.OpenAI(base_url=first.base_url, api_key=secret, max_retries=0, timeout=60)
    content = b"".join(json.dumps(line(i)).encode() + b"\n" for i in range(1, LINES + 1))
    uploaded = client.files.create(file=("bulk.jsonl", content), purpose="batch")
    batch = client.batches.create(input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h")

    deadline = time.monotonic() + 300
    while client.batches.retrieve(batch.id).request_counts.completed < LINES // 3:
        assert time.monotonic() < deadline, "the batch made no progress"
        time.sleep(0.1)
    first.stop(sig=signal.SIGKILL)  # mid-run, nothing flushed or finished
    assert first.proc is not None and first.proc.returncode == -signal.SIGKILL
    at_kill = len(openai_side.chat_calls()) + len(anthropic_side.bodies("/messages"))
    assert at_kill < LINES - len(LOCAL_LINES)

    second = GatewayProcess(config=config, workdir=tmp_path).start(timeout=120)
    client = openai.OpenAI(base_url=second.base_url, api_key=secret, max_retries=0, timeout=60)
    deadline = time.monotonic() + 600
    while (current := client.batches.retrieve(batch.id)).status != "completed":
        assert time.monotonic() < deadline, f"the batch did not finish: {current.status} {current.request_counts}"
        time.sleep(0.2)
    assert current.request_counts.completed == LINES and current.request_counts.failed == 0
    assert current.error_file_id is None

    # every line answered exactly once, with its own answer
    output = [json.loads(row) for row in client.files.content(current.output_file_id or "").text.splitlines()]
    assert len(output) == LINES
    assert Counter(o["custom_id"] for o in output) == Counter(f"line-{i}" for i in range(1, LINES + 1))
    for record in output:
        i = int(record["custom_id"].split("-")[1])
        message = record["response"]["body"]["choices"][0]["message"]["content"]
        assert record["response"]["status_code"] == 200
        if i in LOCAL_LINES:
            assert record["response"]["body"]["model"] == "local/smollm2-135m" and message
        else:
            assert message == f"echo: question {i}", record

    # upstreams saw each line once, except those in flight at the kill (sent again after it)
    seen = Counter(
        [body["messages"][-1]["content"] for body in (r.body for r in openai_side.chat_calls())]
        + [
            next(p["text"] for p in b["messages"][-1]["content"] if p["type"] == "text")
            if isinstance(b["messages"][-1]["content"], list)
            else b["messages"][-1]["content"]
            for b in anthropic_side.bodies("/messages")
        ]
    )
    assert len(seen) == LINES - len(LOCAL_LINES)
    assert sum(n - 1 for n in seen.values()) <= CONCURRENCY

    # charged like interactive requests: one ledger row per line, and the key's spend is the ledger's
    httpx.post(f"{second.url}/admin/usage/flush", headers=admin).raise_for_status()
    usage = httpx.get(f"{second.url}/admin/usage", params={"key_id": key_id, "limit": 10000}, headers=admin).json()
    assert usage["total"]["requests"] == LINES and usage["total"]["errors"] == 0
    assert {row["request_id"] for row in usage["data"]} == {o["response"]["request_id"] for o in output}
    key = httpx.get(f"{second.url}/admin/keys/{key_id}", headers=admin).json()
    assert key["spent_recorded"] == pytest.approx(usage["total"]["cost"], abs=1e-9)
    assert usage["total"]["cost"] > 0
    second.stop()
