"""``model: "auto"`` end to end: the openai SDK against a real gateway subprocess serving the
real local model (SmolLM2 via llama-cpp) and a fake-upstream flagship, with the real learned router."""

from __future__ import annotations

import json
import subprocess
import sys

import httpx
import openai
import pytest

from unigate.routing.learned.model import load_router

TRIVIAL = "Say hi"
HARD = (
    "Statement 1 | Every function from a finite set onto itself must be one to one. "
    "Statement 2 | Every subgroup of an abelian group is abelian.\n"
    "A. True, True\nB. False, False\nC. True, False\nD. False, True"
)
LOCAL = "local/smollm2-135m"
TOOLS = [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object", "properties": {}}}}]


@pytest.fixture(scope="module")
def threshold() -> float:
    """Midway between the real router's scores of the two prompts (the router's quality is the
    learned router's own test; this one checks the gateway acts on its scores)."""
    router = load_router("mmlu")
    easy, hard = router.score(TRIVIAL), router.score(HARD)
    assert easy < hard, f"the shipped router should rank the hard prompt higher ({easy=} {hard=})"
    return round((easy + hard) / 2, 6)


@pytest.fixture
def gateway(start_gateway, upstream, threshold):
    config = {
        "local_model": {"enabled": True},
        "models": [
            {
                "name": "flagship",
                "deployments": [
                    {"provider": "openai", "model": "flagship-up", "api_base": upstream.base_url, "api_key": "sk-up"}
                ],
                "quality": 0.95,
                "pricing": {"input_per_mtok": 5.0, "output_per_mtok": 15.0},
                "capabilities": {"context_window": 200000, "tools": True, "vision": True, "json_schema": True},
            }
        ],
        "auto": {
            "policies": [{"name": "balanced", "threshold": threshold}, {"name": "private", "privacy": "local-only"}],
            "record_prompts": True,
        },
    }
    return start_gateway(config)


def client(gateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.base_url, api_key="unused", max_retries=0, timeout=120)


def test_trivial_prompt_goes_to_the_local_model(gateway, upstream, threshold):
    raw = client(gateway).chat.completions.with_raw_response.create(
        model="auto", messages=[{"role": "user", "content": TRIVIAL}], max_tokens=8, temperature=0
    )
    completion = raw.parse()
    assert raw.headers["x-unigate-auto-model"] == LOCAL
    assert raw.headers["x-unigate-deployment"] == LOCAL and raw.headers["x-unigate-provider"] == "local"
    assert raw.headers["x-unigate-auto-policy"] == "auto/balanced"
    assert float(raw.headers["x-unigate-auto-threshold"]) == pytest.approx(threshold, abs=1e-3)
    assert float(raw.headers["x-unigate-auto-score"]) < threshold
    assert "x-unigate-auto-rejected" not in raw.headers
    assert completion.model == LOCAL and completion.usage.completion_tokens <= 8
    assert upstream.chat_calls() == []


def test_hard_prompt_goes_to_the_flagship(gateway, upstream, threshold):
    raw = client(gateway).chat.completions.with_raw_response.create(
        model="auto", messages=[{"role": "user", "content": HARD}], max_tokens=16
    )
    completion = raw.parse()
    assert raw.headers["x-unigate-auto-model"] == "flagship"
    assert float(raw.headers["x-unigate-auto-score"]) >= threshold
    assert completion.choices[0].message.content == "echo: " + HARD
    sent = upstream.chat_calls()[-1].body
    assert sent["model"] == "flagship-up"
    assert float(raw.headers["x-unigate-cost"]) == pytest.approx((10 * 5 + 5 * 15) / 1e6)


def test_tools_rule_out_the_local_model_and_the_header_says_so(gateway, upstream):
    raw = client(gateway).chat.completions.with_raw_response.create(
        model="auto", messages=[{"role": "user", "content": TRIVIAL}], tools=TOOLS, max_tokens=8
    )
    assert raw.headers["x-unigate-auto-model"] == "flagship"
    assert raw.headers["x-unigate-auto-rejected"] == f"{LOCAL}=tools"


def test_streaming_auto_request_carries_the_headers(gateway, upstream):
    with client(gateway).chat.completions.with_streaming_response.create(
        model="auto",
        messages=[{"role": "user", "content": HARD}],
        stream=True,
        stream_options={"include_usage": True},
    ) as response:
        assert response.headers["x-unigate-auto-model"] == "flagship"
        text = "".join(c.choices[0].delta.content or "" for c in response.parse() if c.choices)
    assert text == "echo: " + HARD


def test_typo_and_impossible_requests_are_explained(gateway, threshold):
    policies = {p["id"]: p for p in httpx.get(gateway.base_url + "/auto/policies").json()["data"]}
    assert set(policies) == {"auto", "auto/balanced", "auto/private", "auto/cheap", "auto/best"}
    assert policies["auto"]["policy"] == "auto/balanced"
    assert policies["auto"]["threshold"] == pytest.approx(threshold)
    assert sorted(policies["auto"]["candidates"]) == sorted(["flagship", LOCAL])
    with pytest.raises(openai.NotFoundError) as info:
        client(gateway).chat.completions.create(model="auto/balancd", messages=[{"role": "user", "content": "x"}])
    assert "auto/balanced" in info.value.message and "auto/private" in info.value.message
    assert info.value.code == "model_not_found"
    with pytest.raises(openai.BadRequestError) as bad:
        client(gateway).chat.completions.create(
            model="auto/private", messages=[{"role": "user", "content": "x"}], tools=TOOLS
        )
    assert f"{LOCAL}: does not support tools" in bad.value.message
    assert "flagship: excluded by the privacy policy" in bad.value.message
    rejected = bad.value.response.headers["x-unigate-auto-rejected"]
    assert sorted(rejected.split(";")) == ["flagship=privacy", f"{LOCAL}=tools"]


def test_per_request_privacy_override_body_and_header(gateway, upstream):
    raw = client(gateway).chat.completions.with_raw_response.create(
        model="auto",
        messages=[{"role": "user", "content": HARD}],
        max_tokens=4,
        extra_body={"route": {"privacy": "local-only"}},
    )
    assert raw.headers["x-unigate-auto-model"] == LOCAL
    assert raw.headers["x-unigate-auto-rejected"] == "flagship=privacy"
    raw = client(gateway).chat.completions.with_raw_response.create(
        model="auto",
        messages=[{"role": "user", "content": HARD}],
        max_tokens=4,
        extra_headers={"x-unigate-privacy": "local-only"},
    )
    assert raw.headers["x-unigate-auto-model"] == LOCAL
    assert upstream.chat_calls() == []


def test_feedback_round_trip_and_export(gateway, upstream, tmp_path):
    raw = client(gateway).chat.completions.with_raw_response.create(
        model="auto", messages=[{"role": "user", "content": TRIVIAL}], max_tokens=4
    )
    request_id = raw.headers["x-request-id"]
    reply = httpx.post(
        gateway.base_url + "/feedback", json={"request_id": request_id, "score": 0.25, "comment": "too short"}
    )
    assert reply.status_code == 200 and reply.json() == {
        "object": "feedback",
        "request_id": request_id,
        "recorded": True,
    }
    bad = httpx.post(gateway.base_url + "/feedback", json={"request_id": request_id, "score": 2})
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "score"
    # the dashboard's numbers: share per model, estimated saving, quality observed from feedback
    reply = httpx.get(gateway.base_url + "/auto/stats")
    assert reply.status_code == 200, reply.text
    stats = {p["policy"]: p for p in reply.json()["data"]}
    local = next(m for m in stats["auto/balanced"]["models"] if m["model"] == LOCAL)
    assert local["requests"] >= 1 and 0 < local["share"] <= 1
    assert local["feedback"] == 1 and local["feedback_mean"] == 0.25
    assert stats["auto/balanced"]["estimated_saving_usd"] > 0  # the local model is free, the flagship is not
    gateway.stop()  # prompts are flushed on shutdown at the latest

    data_dir = tmp_path / "data"
    stored = [json.loads(line) for line in (data_dir / "feedback.jsonl").read_text().splitlines()]
    assert stored[-1]["request_id"] == request_id and stored[-1]["score"] == 0.25
    out = subprocess.run(
        [sys.executable, "-m", "unigate.routing.auto.commands", "export-feedback", "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        check=True,
    )
    records = [json.loads(line) for line in out.stdout.splitlines()]
    assert records == [{"prompt": TRIVIAL, "request_id": request_id, "label": 0.75}]

    from unigate.router_training.data import load_jsonl

    path = tmp_path / "train.jsonl"
    path.write_text(out.stdout)
    (example,) = load_jsonl(path)  # the learned router's trainer accepts it
    assert example.prompt == TRIVIAL and example.strong_q == pytest.approx(0.75)
