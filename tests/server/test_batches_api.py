"""/v1/files and /v1/batches with the openai SDK: upload, create, poll, download; owners;
chat, embeddings and responses lines; bad input in OpenAI's shape."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Callable
from typing import Any

import httpx
import openai
import pytest

from tests.conftest import openai_model
from tests.support.fake_upstream import ThreadedUpstream
from tests.support.gateway_process import GatewayProcess


def jsonl(lines: list[dict[str, Any]]) -> bytes:
    return b"".join(json.dumps(line).encode() + b"\n" for line in lines)


def chat_line(i: int, model: str = "gpt-4o-mini") -> dict[str, Any]:
    return {
        "custom_id": f"req-{i}",
        "method": "POST",
        "url": "/v1/chat/completions",
        "body": {"model": model, "messages": [{"role": "user", "content": f"question {i}"}]},
    }


def wait_done(client: openai.OpenAI, batch_id: str, timeout: float = 120.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        batch = client.batches.retrieve(batch_id)
        if batch.status in ("completed", "failed", "cancelled", "expired"):
            return batch
        time.sleep(0.2)
    raise AssertionError(f"batch {batch_id} did not finish: {batch.status}")


@pytest.fixture
def gateway(start_gateway: Callable[..., GatewayProcess], upstream: ThreadedUpstream) -> GatewayProcess:
    return start_gateway(
        {
            "discover_providers": False,
            "models": [
                openai_model("gpt-4o-mini", upstream.base_url),
                openai_model("text-embedding-3-small", upstream.base_url),
                {
                    "name": "llama",
                    "deployments": [
                        {"provider": "groq", "model": "llama", "api_base": upstream.base_url, "api_key": "k"}
                    ],
                },
            ],
            "batches": {"max_file_bytes": 200_000},
        }
    )


@pytest.fixture
def client(gateway: GatewayProcess) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.base_url, api_key="unused", max_retries=0)


def test_chat_batch_end_to_end(client: openai.OpenAI, upstream: ThreadedUpstream, gateway: GatewayProcess) -> None:
    lines = [chat_line(i) for i in range(25)]
    uploaded = client.files.create(file=("input.jsonl", jsonl(lines)), purpose="batch")
    assert uploaded.purpose == "batch" and uploaded.bytes == len(jsonl(lines))
    assert client.files.content(uploaded.id).content == jsonl(lines)
    batch = client.batches.create(
        input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h", metadata={"job": "t"}
    )
    assert batch.status in ("validating", "in_progress") and batch.request_counts.total == 25
    done = wait_done(client, batch.id)
    assert done.status == "completed" and done.request_counts.completed == 25 and done.request_counts.failed == 0
    assert done.metadata == {"job": "t"} and done.error_file_id is None
    output = [json.loads(line) for line in client.files.content(done.output_file_id).text.splitlines()]
    by_id = {o["custom_id"]: o for o in output}
    assert sorted(by_id) == sorted(f"req-{i}" for i in range(25))
    answer = by_id["req-7"]["response"]
    assert answer["status_code"] == 200
    assert answer["body"]["choices"][0]["message"]["content"] == "echo: question 7"
    assert len(upstream.chat_calls()) == 25
    # every line is in the ledger under its own request id, charged like an interactive request
    httpx.post(f"{gateway.url}/admin/usage/flush").raise_for_status()
    usage = httpx.get(f"{gateway.url}/admin/usage", params={"model": "gpt-4o-mini", "limit": 100}).json()
    ids = {row["request_id"] for row in usage["data"]}
    assert {o["response"]["request_id"] for o in output} <= ids
    assert usage["total"]["requests"] == 25
    assert usage["total"]["cost"] == pytest.approx(25 * (10 * 0.15 + 5 * 0.6) / 1e6)
    assert [b.id for b in client.batches.list()] == [batch.id]
    progress = httpx.get(f"{gateway.url}/ui/api/batches").json()["data"]  # what /ui shows
    assert progress[0]["id"] == batch.id and progress[0]["request_counts"]["completed"] == 25


def test_embeddings_and_failed_lines(client: openai.OpenAI, upstream: ThreadedUpstream) -> None:
    lines = [
        {
            "custom_id": "e1",
            "method": "POST",
            "url": "/v1/embeddings",
            "body": {"model": "text-embedding-3-small", "input": "hi"},
        },
        {
            "custom_id": "e2",
            "method": "POST",
            "url": "/v1/embeddings",
            "body": {"model": "no-such-model", "input": "hi"},
        },
    ]
    uploaded = client.files.create(file=("e.jsonl", jsonl(lines)), purpose="batch")
    done = wait_done(
        client, client.batches.create(input_file_id=uploaded.id, endpoint="/v1/embeddings", completion_window="24h").id
    )
    assert done.request_counts.completed == 1 and done.request_counts.failed == 1
    ok = json.loads(client.files.content(done.output_file_id).text)
    assert ok["custom_id"] == "e1" and ok["response"]["body"]["data"][0]["embedding"]
    failed = json.loads(client.files.content(done.error_file_id).text)
    assert failed["custom_id"] == "e2" and failed["response"]["status_code"] == 404
    assert failed["response"]["body"]["error"]["code"] == "model_not_found"


def test_responses_lines(client: openai.OpenAI) -> None:
    lines = [
        {
            "custom_id": "r1",
            "method": "POST",
            "url": "/v1/responses",
            "body": {"model": "llama", "input": "say hi", "store": False},
        }
    ]
    uploaded = client.files.create(file=("r.jsonl", jsonl(lines)), purpose="batch")
    done = wait_done(
        client, client.batches.create(input_file_id=uploaded.id, endpoint="/v1/responses", completion_window="24h").id
    )
    record = json.loads(client.files.content(done.output_file_id).text)
    assert record["response"]["body"]["object"] == "response"
    assert record["response"]["body"]["output"][0]["content"][0]["text"] == "echo: say hi"


def test_cancel(client: openai.OpenAI, upstream: ThreadedUpstream) -> None:
    from tests.support.fake_upstream import Mode

    upstream.upstream.default = Mode(delay=0.3)
    uploaded = client.files.create(file=("c.jsonl", jsonl([chat_line(i) for i in range(40)])), purpose="batch")
    batch = client.batches.create(input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h")
    time.sleep(0.5)
    cancelling = client.batches.cancel(batch.id)
    assert cancelling.status in ("cancelling", "cancelled")
    done = wait_done(client, batch.id)
    assert done.status == "cancelled" and done.request_counts.completed < 40


def test_files_belong_to_their_key(start_gateway: Callable[..., GatewayProcess], upstream: ThreadedUpstream) -> None:
    gateway = start_gateway(
        {
            "discover_providers": False,
            "server": {"master_key": "sk-master"},
            "models": [openai_model("gpt-4o-mini", upstream.base_url)],
        }
    )

    def key(name: str) -> str:
        reply = httpx.post(
            f"{gateway.url}/admin/keys", json={"name": name}, headers={"authorization": "Bearer sk-master"}
        )
        return str(reply.json()["key"])

    alice = openai.OpenAI(base_url=gateway.base_url, api_key=key("alice"), max_retries=0)
    bob = openai.OpenAI(base_url=gateway.base_url, api_key=key("bob"), max_retries=0)
    uploaded = alice.files.create(file=("a.jsonl", jsonl([chat_line(1)])), purpose="batch")
    for call in (
        lambda: bob.files.retrieve(uploaded.id),
        lambda: bob.files.content(uploaded.id),
        lambda: bob.files.delete(uploaded.id),
        lambda: bob.batches.create(input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h"),
    ):
        with pytest.raises(openai.NotFoundError):
            call()
    batch = alice.batches.create(input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h")
    with pytest.raises(openai.NotFoundError):
        bob.batches.retrieve(batch.id)
    assert [f.id for f in bob.files.list()] == []
    assert wait_done(alice, batch.id).request_counts.completed == 1
    assert alice.files.delete(uploaded.id).deleted is True
    with pytest.raises(openai.NotFoundError):
        alice.files.retrieve(uploaded.id)


# -- bad input ---------------------------------------------------------------------------------


def test_upload_bad_input(client: openai.OpenAI, gateway: GatewayProcess) -> None:
    with pytest.raises(openai.BadRequestError) as exc:
        client.files.create(file=("x.jsonl", b""), purpose="batch")
    assert exc.value.response.json()["error"]["param"] == "file"
    with pytest.raises(openai.BadRequestError) as exc:
        client.files.create(file=("x.jsonl", b"{}"), purpose="fine-tune")
    assert exc.value.response.json()["error"]["param"] == "purpose"
    with pytest.raises(openai.APIStatusError) as exc:
        client.files.create(file=("x.jsonl", b"x" * 300_000), purpose="batch")
    assert exc.value.status_code == 413
    reply = httpx.post(f"{gateway.base_url}/files", json={"purpose": "batch"})
    assert reply.status_code == 415


def test_malformed_lines_fail_the_batch(client: openai.OpenAI) -> None:
    content = jsonl([chat_line(1), chat_line(1)]) + b"not json\n" + jsonl([{**chat_line(3), "url": "/v1/embeddings"}])
    uploaded = client.files.create(file=io.BytesIO(content), purpose="batch")
    batch = client.batches.create(input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h")
    assert batch.status == "failed"
    codes = [(e.line, e.code) for e in batch.errors.data]
    assert codes == [(2, "duplicate_custom_id"), (3, "invalid_json_line"), (4, "mismatched_endpoint")]


def test_create_bad_input(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError):
        client.batches.create(input_file_id="file-nope", endpoint="/v1/chat/completions", completion_window="24h")
    uploaded = client.files.create(file=("x.jsonl", jsonl([chat_line(1)])), purpose="batch")
    with pytest.raises(openai.BadRequestError) as exc:
        client.batches.create(input_file_id=uploaded.id, endpoint="/v1/audio/speech", completion_window="24h")  # type: ignore[arg-type]
    assert exc.value.response.json()["error"]["param"] == "endpoint"
    with pytest.raises(openai.NotFoundError):
        client.batches.retrieve("batch_nope")
