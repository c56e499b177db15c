"""/metrics on a real gateway process, parsed with prometheus_client's own text parser."""

from __future__ import annotations

import json
import time
import urllib.request

import httpx
import openai
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import openai_model
from tests.support.fake_upstream import Mode


def scrape(url: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    with urllib.request.urlopen(url + "/metrics", timeout=10) as reply:
        assert reply.headers["content-type"].startswith("text/plain")
        text = reply.read().decode()
    samples: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append((sample.labels, sample.value))
    return samples


def total(samples, name: str, **labels: str) -> float:
    return sum(v for lab, v in samples.get(name, []) if all(lab.get(k) == want for k, want in labels.items()))


@pytest.fixture
def gateway(start_gateway, make_upstream):
    good = make_upstream(Mode(prompt_tokens=12, completion_tokens=7))
    bad = make_upstream(Mode("status", status=500))
    config = {
        "models": [
            {**openai_model("good", good.base_url), "pricing": {"input_per_mtok": 1.0, "output_per_mtok": 2.0}},
            {**openai_model("bad", bad.base_url), "routing": {"retries": 0}},
        ]
    }
    return start_gateway(config)


def test_counters_match_the_traffic(gateway):
    client = openai.OpenAI(base_url=gateway.base_url, api_key="unused", max_retries=0)
    for i in range(5):
        client.chat.completions.create(model="good", messages=[{"role": "user", "content": f"secret prompt {i}"}])
    for _ in range(3):
        list(
            client.chat.completions.create(model="good", messages=[{"role": "user", "content": "stream"}], stream=True)
        )
    for _ in range(2):
        with pytest.raises(openai.APIStatusError):
            client.chat.completions.create(model="bad", messages=[{"role": "user", "content": "x"}])
    with pytest.raises(openai.NotFoundError):  # refused before admission: not a request the hooks see
        client.chat.completions.create(model="nope", messages=[{"role": "user", "content": "x"}])

    samples = scrape(gateway.url)
    assert total(samples, "unigate_requests_total") == 10
    assert (
        total(samples, "unigate_requests_total", model="good", status="ok", deployment="good", provider="openai") == 8
    )
    assert total(samples, "unigate_requests_total", model="bad", status="error") == 2
    assert total(samples, "unigate_errors_total", model="bad", error="UpstreamServerError") == 2
    assert total(samples, "unigate_errors_total") == 2
    assert total(samples, "unigate_tokens_total", model="good", type="input") == 8 * 12
    assert total(samples, "unigate_tokens_total", model="good", type="output") == 8 * 7
    assert total(samples, "unigate_cost_usd_total", model="good") == pytest.approx(8 * (12e-6 + 14e-6))
    assert total(samples, "unigate_request_latency_seconds_count") == 10
    assert total(samples, "unigate_request_latency_seconds_count", model="good") == 8
    assert total(samples, "unigate_time_to_first_token_seconds_count", model="good") == 3
    assert total(samples, "unigate_in_flight_requests") == 0
    assert total(samples, "unigate_attempt_failures_total", deployment="bad", error="UpstreamServerError") == 2
    # health collector: every configured deployment in exactly one state
    assert total(samples, "unigate_deployment_state", deployment="good", state="healthy") == 1
    assert total(samples, "unigate_deployment_state", deployment="good") == 1
    assert total(samples, "unigate_deployment_cooling_down") == 0
    # no model name outside the config, no prompt text anywhere
    models = {lab.get("model") for rows in samples.values() for lab, _ in rows if "model" in lab}
    assert models <= {"good", "bad"}
    assert "secret prompt" not in json.dumps(samples)


def test_request_log_lines_are_json_without_prompts(gateway):
    client = openai.OpenAI(base_url=gateway.base_url, api_key="unused", max_retries=0)
    raw = client.chat.completions.with_raw_response.create(
        model="good", messages=[{"role": "user", "content": "do not log this prompt"}]
    )
    request_id = raw.headers["x-request-id"]
    deadline = time.monotonic() + 5
    line = None
    while line is None and time.monotonic() < deadline:
        for text in gateway.log().splitlines():
            if request_id in text:
                line = json.loads(text)
        time.sleep(0.05)
    assert line is not None, gateway.log()
    assert line["logger"] == "unigate.requests" and line["event"] == "request"
    assert line["request_id"] == request_id
    assert line["model"] == "good" and line["deployment"] == "good" and line["provider"] == "openai"
    assert line["status"] == "ok" and line["attempts"] == 1
    assert line["input_tokens"] == 12 and line["output_tokens"] == 7
    assert line["cost"] == pytest.approx(12e-6 + 14e-6)
    assert line["latency_ms"] > 0
    assert "do not log this prompt" not in gateway.log()


def test_metrics_are_private_by_default(start_gateway, upstream):
    """Per-team usage is in /metrics: with a master key it needs the master key or the scrape
    token; a virtual key is not enough."""
    gateway = start_gateway(
        {
            "server": {"master_key": "mk-test"},
            "models": [openai_model("good", upstream.base_url)],
            "observability": {"metrics_token": "scrape-token"},
        }
    )
    url = gateway.url + "/metrics"
    created = httpx.post(
        gateway.url + "/admin/keys", json={"name": "app"}, headers={"authorization": "Bearer mk-test"}, timeout=30
    )
    for headers, status in (
        ({}, 401),
        ({"authorization": "Bearer wrong"}, 401),
        ({"authorization": f"Bearer {created.json()['key']}"}, 403),
    ):
        refused = httpx.get(url, headers=headers, timeout=30)
        assert refused.status_code == status, refused.text
        assert "unigate_" not in refused.text and refused.json()["error"]["message"]
    for token in ("mk-test", "scrape-token"):
        allowed = httpx.get(url, headers={"authorization": f"Bearer {token}"}, timeout=30)
        assert allowed.status_code == 200 and "unigate_deployment_state" in allowed.text


def test_metrics_can_be_made_public(start_gateway, upstream):
    gateway = start_gateway(
        {
            "server": {"master_key": "mk-test"},
            "models": [openai_model("good", upstream.base_url)],
            "observability": {"metrics_public": True},
        }
    )
    assert httpx.get(gateway.url + "/metrics", timeout=30).status_code == 200


def test_client_chosen_model_names_keep_metrics_and_memory_bounded(start_gateway, upstream):
    """Every request names a new ``openai/<model>``: past a small cap they share the label
    ``other``, so /metrics stops growing however many names clients invent."""
    gateway = start_gateway(
        {
            "providers": {"openai": {"api_base": upstream.base_url, "api_key": "sk-up"}},
            "models": [openai_model("good", upstream.base_url)],
        }
    )

    def send(names: range) -> None:
        with httpx.Client(base_url=gateway.base_url, timeout=30) as client:
            for i in names:
                body = {"model": f"openai/invented-{i}", "messages": [{"role": "user", "content": "x"}]}
                assert client.post("/chat/completions", json=body).status_code == 200

    def size() -> int:
        return len(httpx.get(gateway.url + "/metrics", timeout=30).content)

    send(range(40))
    first = size()
    send(range(40, 440))
    later = size()
    assert later < first * 1.05, (first, later)  # counters grow in value, not in series
    samples = scrape(gateway.url)
    models = {lab["model"] for lab, _ in samples["unigate_requests_total"]}
    assert "other" in models and len(models) <= 22  # the configured model, 20 invented ones, other
    assert total(samples, "unigate_requests_total") == 440
    states = {lab["model"] for lab, _ in samples["unigate_deployment_state"]}
    assert states == {"good"}  # health gauges: configured deployments only
