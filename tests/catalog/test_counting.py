"""Everything produced is charged: answers without usage are counted (UTF-8 bytes / 4, rounded
up), and a stream cut or abandoned before its usage chunk is charged for the output delivered."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.accounts.conftest import MASTER, Admin
from tests.support.fake_upstream import Mode
from unigate.catalog.counting import OutputCounter, estimated_usage, prompt_bytes, response_output_bytes

TEXT = "x" * 400  # 100 tokens by the estimate
TOKEN = 0.001  # USD per output token of the model below


def test_estimate_is_bytes_over_four_rounded_up_and_never_zero_for_output():
    counter = OutputCounter()
    counter.feed({"choices": [{"delta": {"content": "héllo"}}, {"delta": {"reasoning_content": "ab"}}]})
    counter.feed({"choices": [{"delta": {"tool_calls": [{"function": {"name": "f", "arguments": "{}"}}]}}]})
    assert counter.bytes == 6 + 2 + 1 + 2 and counter.tokens == 3
    reply = {"choices": [{"message": {"content": "a"}}, {"message": {"content": None, "refusal": "no"}}]}
    assert response_output_bytes(reply) == 3
    usage = estimated_usage({"messages": [{"role": "user", "content": "hi"}]}, 1)
    assert usage == {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}
    assert prompt_bytes({"messages": [{"role": "user", "content": "hi"}]}) == 10


@pytest.fixture
def gateway(start_gateway, make_upstream):
    upstream = make_upstream(Mode(text=TEXT, chunks=4))
    config = {
        "server": {"master_key": MASTER},
        "models": [
            {
                "name": "metered",
                "deployments": [{"provider": "openai", "model": "metered", "api_base": upstream.base_url}],
                "pricing": {"input_per_mtok": 0, "output_per_mtok": TOKEN * 1e6},
            }
        ],
    }
    process = start_gateway(config)
    process.upstream = upstream
    return process


def _spent(admin: Admin, key_id: str, at_least: float = 0.0) -> float:
    deadline = time.monotonic() + 20
    while True:
        credit = admin.get(f"/admin/keys/{key_id}")["balance"]["credit"]
        if (credit["spent"] >= at_least and credit["reserved"] == 0) or time.monotonic() > deadline:
            return float(credit["spent"])
        time.sleep(0.1)


def _body(**extra):
    return {"model": "metered", "messages": [{"role": "user", "content": "go"}], "max_tokens": 500, **extra}


def test_answers_without_usage_are_charged_by_count(gateway):
    admin = Admin(gateway.url)
    key = admin.create_key(credit=10)
    gateway.upstream.script(Mode(text=TEXT, omit_usage=True), Mode(text=TEXT, omit_usage=True))
    headers = {"authorization": f"Bearer {key['key']}"}
    reply = httpx.post(f"{gateway.url}/v1/chat/completions", json=_body(), headers=headers, timeout=30)
    assert reply.status_code == 200
    assert _spent(admin, key["id"]) == pytest.approx(100 * TOKEN)
    streamed = httpx.post(f"{gateway.url}/v1/chat/completions", json=_body(stream=True), headers=headers, timeout=30)
    assert streamed.status_code == 200 and "[DONE]" in streamed.text
    assert _spent(admin, key["id"]) == pytest.approx(200 * TOKEN)


def test_stream_abandoned_after_finish_reason_is_charged_for_its_output(gateway):
    admin = Admin(gateway.url)
    key = admin.create_key(credit=10)
    gateway.upstream.script(Mode(text=TEXT, usage_delay=30))  # the usage chunk would come much later
    headers = {"authorization": f"Bearer {key['key']}"}
    with (
        httpx.Client(timeout=30) as client,
        client.stream("POST", f"{gateway.url}/v1/chat/completions", json=_body(stream=True), headers=headers) as reply,
    ):
        for line in reply.iter_lines():
            if '"finish_reason":"stop"' in line.replace(" ", ""):
                break  # hang up right after the answer ended, before the usage
    assert _spent(admin, key["id"], at_least=100 * TOKEN) == pytest.approx(100 * TOKEN)


def test_stream_cut_by_the_upstream_is_charged_for_what_was_delivered(gateway):
    admin = Admin(gateway.url)
    key = admin.create_key(credit=10)
    gateway.upstream.script(Mode("stream_cut", text=TEXT, chunks=4))  # half the answer, then the socket dies
    headers = {"authorization": f"Bearer {key['key']}"}
    reply = httpx.post(f"{gateway.url}/v1/chat/completions", json=_body(stream=True), headers=headers, timeout=30)
    assert reply.status_code == 200 and "error" in reply.text
    assert _spent(admin, key["id"], at_least=50 * TOKEN) == pytest.approx(50 * TOKEN)
