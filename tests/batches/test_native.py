"""Batches sent to a provider's own Batch API (``native_batches: true``), driven by the official
``openai`` SDK against fake OpenAI and Anthropic Batch APIs (real HTTP servers on loopback):
translation, the provider key, progress, results under the client's custom_ids, the batch
price in the ledger and the key's spend, cancel, expiry, and a restart mid-poll."""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import openai
import pytest

from tests.server.test_batches_api import chat_line, jsonl, wait_done
from tests.support.fake_batch_upstream import COMPLETION, PROMPT, FakeBatchUpstream
from tests.support.fake_upstream import ThreadedUpstream
from tests.support.gateway_process import GatewayProcess

MASTER = "sk-master"
PROVIDER_KEY = "sk-provider-secret-123"
PRICING = {"input_per_mtok": 0.15, "output_per_mtok": 0.6}
LINE_PRICE = (PROMPT * 0.15 + COMPLETION * 0.6) / 1e6  # interactive; a batch line costs half
ADMIN = {"authorization": f"Bearer {MASTER}"}


@pytest.fixture
def fake() -> Iterator[Any]:
    threaded = ThreadedUpstream(FakeBatchUpstream())  # type: ignore[arg-type]
    yield threaded
    threaded.stop()


def config(fake: Any, provider: str = "openai", **batches: Any) -> dict[str, Any]:
    deployment = {
        "provider": provider,
        "model": "upstream-model-1",
        "api_base": fake.base_url if provider == "openai" else fake.root_url,
        "api_key": PROVIDER_KEY,
        "options": {"native_batches": True},
    }
    return {
        "discover_providers": False,
        "server": {"master_key": MASTER},
        "models": [{"name": "bulk-model", "deployments": [deployment], "pricing": PRICING}],
        "batches": {"native_poll_interval": 0.2, **batches},
    }


def key_for(gateway: GatewayProcess) -> tuple[str, str]:
    created = httpx.post(f"{gateway.url}/admin/keys", json={"name": "bulk", "credit": 5}, headers=ADMIN).json()
    return created["id"], created["key"]


def sdk(gateway: GatewayProcess, secret: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.base_url, api_key=secret, max_retries=0, timeout=30)


def submit(client: openai.OpenAI, lines: list[dict[str, Any]], **extra: Any) -> Any:
    uploaded = client.files.create(file=("in.jsonl", jsonl(lines)), purpose="batch")
    return client.batches.create(
        input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h", **extra
    )


def wait_for(condition: Any, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def records(client: openai.OpenAI, file_id: str | None) -> dict[str, dict[str, Any]]:
    if file_id is None:
        return {}
    return {(r := json.loads(row))["custom_id"]: r for row in client.files.content(file_id).text.splitlines()}


def usage_of(gateway: GatewayProcess, key_id: str) -> dict[str, Any]:
    httpx.post(f"{gateway.url}/admin/usage/flush", headers=ADMIN).raise_for_status()
    return httpx.get(f"{gateway.url}/admin/usage", params={"key_id": key_id, "limit": 1000}, headers=ADMIN).json()


def spent(gateway: GatewayProcess, key_id: str) -> float:
    return float(httpx.get(f"{gateway.url}/admin/keys/{key_id}", headers=ADMIN).json()["spent_recorded"])


def test_openai_batch_api(start_gateway: Callable[..., GatewayProcess], fake: Any) -> None:
    gateway = start_gateway(config(fake))
    key_id, secret = key_for(gateway)
    client = sdk(gateway, secret)
    lines = [chat_line(i, "bulk-model") for i in range(12)]
    lines.append({**chat_line(99, "bulk-model"), "custom_id": "odd id/with spaces"})
    lines[3]["body"]["messages"][0]["content"] = "please fail"
    batch = submit(client, lines, metadata={"job": "nightly"})
    assert batch.request_counts.total == 13

    wait_for(lambda: fake.calls("POST", "/v1/batches"), "the batch never reached the provider")
    held = client.batches.retrieve(batch.id)
    assert held.status == "in_progress" and held.request_counts.completed == 0
    fake.upstream.done_while_held = 5  # the provider's own progress shows through while it runs
    wait_for(lambda: client.batches.retrieve(batch.id).request_counts.completed == 4, "no progress shown")
    assert client.batches.retrieve(batch.id).request_counts.failed == 1  # line 3 is one that fails
    shown = httpx.get(f"{gateway.url}/ui/api/batches", headers=ADMIN).json()["data"]
    assert shown[0]["runs_on"] == "openai" and shown[0]["status"] == "in_progress"
    fake.upstream.hold = False
    done = wait_done(client, batch.id)
    assert done.status == "completed" and done.metadata == {"job": "nightly"}
    assert done.request_counts.completed == 12 and done.request_counts.failed == 1

    # what went upstream: the provider's key, OpenAI's format, the upstream model, our line ids
    (remote,) = fake.upstream.batches.values()
    assert remote.endpoint == "/v1/chat/completions"
    assert {line["body"]["model"] for line in remote.lines} == {"upstream-model-1"}
    assert sorted(line["custom_id"] for line in remote.lines) == sorted(f"line-{n}" for n in range(1, 14))
    for _method, _path, headers in fake.seen:
        assert headers["authorization"] == f"Bearer {PROVIDER_KEY}"
        assert secret not in json.dumps(headers)

    # answers under the client's own custom_ids, in OpenAI's batch output format
    output, errors = records(client, done.output_file_id), records(client, done.error_file_id)
    assert set(output) == {f"req-{i}" for i in range(12) if i != 3} | {"odd id/with spaces"}
    answer = output["req-7"]["response"]
    assert answer["status_code"] == 200
    assert answer["body"]["choices"][0]["message"]["content"] == "batch: question 7"
    assert errors["req-3"]["response"]["status_code"] == 400

    # each line charged at the batch price (half), ledgered under its request id, spent by the key
    usage = usage_of(gateway, key_id)
    assert usage["total"]["requests"] == 13
    assert {row["request_id"] for row in usage["data"]} >= {r["response"]["request_id"] for r in output.values()}
    assert usage["total"]["cost"] == pytest.approx(12 * LINE_PRICE / 2)
    assert spent(gateway, key_id) == pytest.approx(12 * LINE_PRICE / 2, abs=1e-9)
    assert PROVIDER_KEY not in gateway.log_path.read_text()


def test_anthropic_message_batches(start_gateway: Callable[..., GatewayProcess], fake: Any) -> None:
    gateway = start_gateway(config(fake, "anthropic"))
    key_id, secret = key_for(gateway)
    client = sdk(gateway, secret)
    lines = [chat_line(i, "bulk-model") for i in range(6)]
    lines[0]["body"]["messages"].insert(0, {"role": "system", "content": "be brief"})
    lines[2]["body"]["messages"][0]["content"] = "fail here"
    lines[4]["body"]["n"] = 2  # Anthropic answers one choice: refused here, as interactively
    fake.upstream.hold = False
    done = wait_done(client, submit(client, lines).id)
    assert done.status == "completed"
    assert done.request_counts.completed == 4 and done.request_counts.failed == 2

    (remote,) = fake.upstream.batches.values()
    params = {line["custom_id"]: line["params"] for line in remote.lines}
    assert set(params) == {"line-1", "line-2", "line-3", "line-4", "line-6"}  # not the n=2 line
    assert params["line-1"]["system"] == "be brief" and params["line-1"]["model"] == "upstream-model-1"
    assert params["line-1"]["max_tokens"] > 0 and "stream" not in params["line-1"]
    for _method, _path, headers in fake.seen:
        assert headers["x-api-key"] == PROVIDER_KEY and "authorization" not in headers
        assert headers["anthropic-version"]

    output, errors = records(client, done.output_file_id), records(client, done.error_file_id)
    body = output["req-1"]["response"]["body"]
    assert body["object"] == "chat.completion" and body["model"] == "bulk-model"
    assert body["choices"][0]["message"]["content"] == "batch: question 1"
    assert body["usage"]["prompt_tokens"] == PROMPT and body["usage"]["completion_tokens"] == COMPLETION
    assert errors["req-2"]["response"]["status_code"] == 400
    assert errors["req-2"]["response"]["body"]["error"]["message"] == "refused by the fake"
    assert errors["req-4"]["response"]["status_code"] == 400
    assert usage_of(gateway, key_id)["total"]["cost"] == pytest.approx(4 * LINE_PRICE / 2)


def test_cancel_reaches_the_provider(start_gateway: Callable[..., GatewayProcess], fake: Any) -> None:
    fake.upstream.answered_before_stop = 2
    gateway = start_gateway(config(fake, "anthropic"))
    _key_id, secret = key_for(gateway)
    client = sdk(gateway, secret)
    batch = submit(client, [chat_line(i, "bulk-model") for i in range(5)])
    wait_for(lambda: fake.calls("POST", "/v1/messages/batches"), "the batch never reached the provider")
    assert client.batches.cancel(batch.id).status == "cancelling"
    done = wait_done(client, batch.id)
    assert done.status == "cancelled" and done.cancelled_at is not None
    assert [c[1] for c in fake.calls("POST", "/v1/messages/batches/")][-1].endswith("/cancel")
    assert set(records(client, done.output_file_id)) == {"req-0", "req-1"}
    assert done.request_counts.completed == 2


def test_provider_expiry_ends_expired(start_gateway: Callable[..., GatewayProcess], fake: Any) -> None:
    fake.upstream.expire, fake.upstream.answered_before_stop = True, 3
    gateway = start_gateway(config(fake))
    _key_id, secret = key_for(gateway)
    client = sdk(gateway, secret)
    done = wait_done(client, submit(client, [chat_line(i, "bulk-model") for i in range(5)]).id)
    assert done.status == "expired" and done.expired_at is not None
    assert set(records(client, done.output_file_id)) == {"req-0", "req-1", "req-2"}
    unrun = records(client, done.error_file_id)
    assert set(unrun) == {"req-3", "req-4"}
    assert unrun["req-3"]["response"] is None and unrun["req-3"]["error"]["code"] == "batch_expired"
    assert done.request_counts.completed == 3 and done.request_counts.failed == 2


def test_restart_mid_poll_resumes_the_same_remote_batch(
    start_gateway: Callable[..., GatewayProcess], fake: Any
) -> None:
    cfg = config(fake)
    first = start_gateway(cfg)
    key_id, secret = key_for(first)
    batch = submit(sdk(first, secret), [chat_line(i, "bulk-model") for i in range(8)])
    wait_for(lambda: fake.calls("GET", "/v1/batches/"), "the gateway never polled the provider")
    first.stop(sig=signal.SIGKILL)
    fake.upstream.hold = False

    second = start_gateway(cfg)
    client = sdk(second, secret)
    done = wait_done(client, batch.id)
    assert done.status == "completed" and done.request_counts.completed == 8
    assert len(fake.calls("POST", "/v1/batches")) == 1 and len(fake.calls("POST", "/v1/files")) == 1
    assert len(records(client, done.output_file_id)) == 8
    usage = usage_of(second, key_id)
    assert usage["total"]["requests"] == 8
    assert spent(second, key_id) == pytest.approx(usage["total"]["cost"], abs=1e-9) == pytest.approx(8 * LINE_PRICE / 2)


def test_metadata_chooses_and_refuses(start_gateway: Callable[..., GatewayProcess], fake: Any) -> None:
    cfg = config(fake)
    cfg["models"].append(
        {
            "name": "plain",
            "deployments": [{"provider": "openai", "model": "m", "api_base": fake.base_url, "api_key": "k"}],
        }
    )
    gateway = start_gateway(cfg)
    _key_id, secret = key_for(gateway)
    client = sdk(gateway, secret)
    # opting out: the lines go through the gateway's routing (to the chat endpoint)
    done = wait_done(
        client, submit(client, [chat_line(1, "bulk-model")], metadata={"unigate_native_batch": "false"}).id
    )
    assert done.status == "completed" and not fake.calls("POST", "/v1/batches")
    assert fake.calls("POST", "/v1/chat/completions")
    # asking for it where no deployment can: a 400 naming the setting
    with pytest.raises(openai.BadRequestError) as refused:
        submit(client, [chat_line(1, "plain")], metadata={"unigate_native_batch": "true"})
    assert "native_batches" in refused.value.message


def test_a_key_without_room_for_a_line_cannot_send_one(start_gateway: Callable[..., GatewayProcess], fake: Any) -> None:
    gateway = start_gateway(config(fake))
    created = httpx.post(f"{gateway.url}/admin/keys", json={"name": "broke", "credit": 0}, headers=ADMIN).json()
    client = sdk(gateway, created["key"])
    with pytest.raises(openai.APIStatusError) as refused:
        submit(client, [chat_line(1, "bulk-model")])
    assert refused.value.status_code == 402 and "Budget exceeded" in refused.value.message
    assert not fake.calls("POST", "/v1/files") and client.batches.list().data == []
    # room for one line is enough: the batch goes, and nothing stays reserved
    _key_id, secret = key_for(gateway)
    fake.upstream.hold = False
    done = wait_done(sdk(gateway, secret), submit(sdk(gateway, secret), [chat_line(1, "bulk-model")]).id)
    assert done.status == "completed"


def test_embeddings_lines(start_gateway: Callable[..., GatewayProcess], fake: Any) -> None:
    gateway = start_gateway(config(fake))
    key_id, secret = key_for(gateway)
    client = sdk(gateway, secret)
    lines = [
        {
            "custom_id": f"e{i}",
            "method": "POST",
            "url": "/v1/embeddings",
            "body": {"model": "bulk-model", "input": f"t{i}"},
        }
        for i in range(3)
    ]
    uploaded = client.files.create(file=("e.jsonl", jsonl(lines)), purpose="batch")
    fake.upstream.hold = False
    done = wait_done(
        client, client.batches.create(input_file_id=uploaded.id, endpoint="/v1/embeddings", completion_window="24h").id
    )
    assert done.status == "completed" and done.request_counts.completed == 3
    (remote,) = fake.upstream.batches.values()
    assert remote.endpoint == "/v1/embeddings"
    assert records(client, done.output_file_id)["e1"]["response"]["body"]["data"][0]["embedding"] == [0.1, 0.2]
    usage = usage_of(gateway, key_id)
    assert {row["endpoint"] for row in usage["data"]} == {"embeddings"}
    assert usage["total"]["cost"] == pytest.approx(3 * PROMPT * 0.15 / 1e6 / 2)
