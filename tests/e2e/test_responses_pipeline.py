"""``/v1/responses`` goes through the same pipeline as chat: fallbacks when a deployment fails,
``model: "auto/…"`` routing, key budgets (402 before any upstream call), the usage ledger and the
Prometheus metrics — checked with the openai SDK against a gateway process."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from tests.accounts.conftest import Admin
from tests.support.fake_upstream import FakeUpstream, Mode, ThreadedUpstream
from tests.support.gateway_process import GatewayProcess

MASTER = "sk-responses-pipeline"


@pytest.fixture(scope="module")
def broken() -> Iterator[ThreadedUpstream]:
    upstream = ThreadedUpstream(FakeUpstream(default=Mode("status", status=500, message="down")))
    yield upstream
    upstream.stop()


@pytest.fixture(scope="module")
def gateway(agent_upstream: Any, broken: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    def deployment(api_base: str, model: str) -> dict[str, Any]:
        return {
            "provider": "openai",
            "model": model,
            "api_base": api_base,
            "api_key": "sk-up",
            "options": {"responses_api": False},
        }

    config = {
        "local_model": {"enabled": False},
        "discover_providers": False,
        "server": {"master_key": MASTER},
        "models": [
            {
                "name": "primary",
                "deployments": [deployment(broken.base_url, "broken-up")],
                "routing": {"retries": 0, "fallbacks": ["backup"]},
            },
            {
                "name": "backup",
                "deployments": [deployment(agent_upstream.base_url, "backup-up")],
                "pricing": {"input_per_mtok": 1000.0, "output_per_mtok": 2000.0},
            },
        ],
        "auto": {"policies": [{"name": "only-backup", "candidates": ["backup"]}]},
    }
    process = GatewayProcess(config=config, workdir=tmp_path_factory.mktemp("responses-pipeline")).start()
    yield process
    process.stop()


def client(gateway: GatewayProcess, key: str = MASTER) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.base_url, api_key=key, max_retries=0)


def test_a_failing_deployment_falls_back(gateway: GatewayProcess, broken: Any) -> None:
    raw = client(gateway).responses.with_raw_response.create(model="primary", input="hello")
    assert raw.parse().output_text == "echo: hello"
    assert raw.headers["x-unigate-deployment"] == "backup"
    assert "primary" in raw.headers["x-unigate-attempts"]
    assert broken.chat_calls()  # the failing upstream was tried first


def test_a_failing_deployment_falls_back_when_streaming(gateway: GatewayProcess) -> None:
    with client(gateway).responses.stream(model="primary", input="stream") as stream:
        final = stream.get_final_response()
    assert final.output_text == "echo: stream"


def test_auto_routing_picks_a_model(gateway: GatewayProcess) -> None:
    raw = client(gateway).responses.with_raw_response.create(model="auto/only-backup", input="hi")
    assert raw.headers["x-unigate-auto-model"] == "backup"
    assert raw.parse().output_text == "echo: hi"


def test_budget_ledger_and_metrics(gateway: GatewayProcess) -> None:
    admin = Admin(gateway.url, MASTER)
    poor = admin.create_key(name="poor", credit=0.000001)["key"]
    with pytest.raises(openai.APIStatusError) as info:
        client(gateway, poor).responses.create(model="backup", input="expensive", max_output_tokens=1000)
    assert info.value.status_code == 402
    assert info.value.body["type"] == "insufficient_quota"

    key = admin.create_key(name="rich", credit=100.0)
    response = client(gateway, key["key"]).responses.create(model="backup", input="count me")
    assert response.usage is not None
    admin.flush()
    rows = admin.get("/admin/usage", key_id=key["id"])["data"]
    assert len(rows) == 1
    row = rows[0]
    assert row["model"] == "backup" and row["input_tokens"] == 20 and row["output_tokens"] == 5
    assert row["endpoint"] == "responses"  # the API it came in on, not the chat operation under it
    assert row["cached_tokens"] == 3
    assert row["cost"] == pytest.approx(response.usage.model_extra["cost"])

    metrics = httpx.get(gateway.url + "/metrics", headers={"authorization": f"Bearer {MASTER}"}, timeout=30).text
    assert 'unigate_requests_total{deployment="backup",model="backup"' in metrics
