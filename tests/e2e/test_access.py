"""What a restricted key may learn and do, against a real gateway: it never sees the names of
models it may not use (auto-routing rejections, /v1/auto/policies, /health/ready, /v1/models),
count_tokens and feedback count against its rate limit, and feedback is taken only for its own
requests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.accounts.conftest import MASTER, Admin, module_gateway, priced_model
from tests.support.fake_upstream import FakeUpstream, ThreadedUpstream

SECRET = "secret-model"


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    upstream = ThreadedUpstream(FakeUpstream())
    models = [
        priced_model(SECRET, upstream.base_url),
        priced_model("open-model", upstream.base_url, capabilities={"tools": False}),
    ]
    config = {
        "server": {"master_key": MASTER},
        "models": models,
        "auto": {"policies": [{"name": "mine", "candidates": [SECRET, "open-model"]}]},
    }
    yield from module_gateway(tmp_path_factory, config)
    upstream.stop()


def get(gateway: Any, path: str, key: str) -> httpx.Response:
    return httpx.get(gateway.url + path, headers={"authorization": f"Bearer {key}"}, timeout=30)


def post(gateway: Any, path: str, key: str, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(gateway.url + path, headers={"authorization": f"Bearer {key}"}, json=body, timeout=30)


def restricted(gateway: Any, **fields: Any) -> dict[str, Any]:
    return Admin(gateway.url).create_key(name="restricted", models=["open-model"], **fields)


def test_a_restricted_key_never_sees_other_model_names(gateway):
    key = restricted(gateway)["key"]
    tool = {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}
    refused = post(
        gateway,
        "/v1/chat/completions",
        key,
        {"model": "auto/mine", "messages": [{"role": "user", "content": "x"}], "tools": [tool]},
    )
    assert refused.status_code == 400, refused.text
    assert "open-model" in refused.headers["x-unigate-auto-rejected"]  # its own model, and why
    for path in ("/v1/auto/policies", "/health/ready", "/v1/models", f"/v1/models/{SECRET}"):
        seen = get(gateway, path, key)
        assert SECRET not in seen.text, (path, seen.text)
    # asked for by name, it answers exactly as a model that does not exist
    hidden = get(gateway, f"/v1/models/{SECRET}", key)
    missing = get(gateway, "/v1/models/no-such-model", key)
    assert hidden.status_code == missing.status_code == 404 and hidden.text == missing.text
    assert SECRET not in refused.text and SECRET not in str(refused.headers)
    policies = get(gateway, "/v1/auto/policies", key).json()["data"]
    assert ["open-model"] in [p["candidates"] for p in policies]
    # the master key sees everything
    assert SECRET in get(gateway, "/v1/auto/policies", MASTER).text
    assert SECRET in get(gateway, "/health/ready", MASTER).text


def test_health_ready_shows_only_the_status_to_the_public(gateway):
    public = httpx.get(gateway.url + "/health/ready", timeout=30)
    assert public.status_code == 200 and public.json() == {"status": "ready"}
    detailed = get(gateway, "/health/ready", MASTER).json()
    assert {d["model"] for d in detailed["deployments"]} == {SECRET, "open-model"}


def test_count_tokens_and_feedback_count_against_the_rate_limit(gateway):
    key = restricted(gateway, rpm=3)["key"]
    count = {"model": "open-model", "messages": [{"role": "user", "content": "hello"}]}
    statuses = [post(gateway, "/v1/messages/count_tokens", key, count).status_code for _ in range(3)]
    assert statuses == [200, 200, 200]
    limited = post(gateway, "/v1/messages/count_tokens", key, count)
    assert limited.status_code == 429 and limited.json()["type"] == "error"
    feedback = post(gateway, "/v1/feedback", key, {"request_id": "req_x", "score": 1})
    assert feedback.status_code == 429, feedback.text


def test_feedback_only_for_the_callers_own_requests(gateway):
    alice, bob = restricted(gateway)["key"], restricted(gateway)["key"]
    body = {"model": "open-model", "messages": [{"role": "user", "content": "x"}], "max_tokens": 5}
    request_id = post(gateway, "/v1/chat/completions", alice, body).headers["x-request-id"]
    stolen = post(gateway, "/v1/feedback", bob, {"request_id": request_id, "score": 0})
    assert stolen.status_code == 404 and stolen.json()["error"]["param"] == "request_id"
    invented = post(gateway, "/v1/feedback", alice, {"request_id": "req_invented", "score": 0})
    assert invented.status_code == 404
    own = post(gateway, "/v1/feedback", alice, {"request_id": request_id, "score": 1})
    assert own.status_code == 200 and own.json()["recorded"] is True
    assert post(gateway, "/v1/feedback", MASTER, {"request_id": request_id, "score": 1}).status_code == 200
    # the feedback file holds only the accepted records
    lines = (gateway.workdir / "data" / "feedback.jsonl").read_text().splitlines()
    assert len(lines) == 2 and all(request_id in line for line in lines)
