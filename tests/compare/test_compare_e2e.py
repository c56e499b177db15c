"""``unigate compare`` end to end: the local model and a fake "cloud" upstream through a real
gateway process; the report's numbers are checked against what the gateway accounted."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import openai_model
from tests.support.fake_upstream import FakeUpstream, Mode
from unigate.compare.client import InProcessTransport
from unigate.compare.prompts import parse_case
from unigate.compare.runner import run
from unigate.compare.stats import summarize
from unigate.config import validate
from unigate.gateway import Gateway

REPO = Path(__file__).resolve().parents[2]
PROMPTS = REPO / "examples" / "prompts" / "classification.jsonl"
LOCAL = "local/smollm2-135m"


def metric_totals(url: str, name: str, label: str) -> dict[str, float]:
    with urllib.request.urlopen(url + "/metrics", timeout=10) as reply:
        text = reply.read().decode()
    totals: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                key = sample.labels[label]
                totals[key] = totals.get(key, 0.0) + sample.value
    return totals


def ledger_cost_by_model(url: str) -> dict[str, float] | None:
    """The ledger's cost per model via the admin API (None if the accounts package is absent)."""
    try:
        urllib.request.urlopen(urllib.request.Request(url + "/admin/usage/flush", method="POST"), timeout=10)
        with urllib.request.urlopen(url + "/admin/usage?group_by=model", timeout=10) as reply:
            rows = json.loads(reply.read())["data"]
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return None
        raise
    return {row["group"]: row["cost"] for row in rows}


def test_compare_local_model_against_fake_cloud(start_gateway, make_upstream, tmp_path):
    cloud = make_upstream(Mode(text="positive", prompt_tokens=40, completion_tokens=2))
    gateway = start_gateway({"local_model": {"enabled": True}, "models": [openai_model("gpt-4o-mini", cloud.base_url)]})
    out, raw = tmp_path / "report.html", tmp_path / "report.json"
    command = [
        sys.executable, "-m", "unigate.cli", "compare", "--gateway", gateway.url, "--key", "unused",
        "--models", f"{LOCAL},gpt-4o-mini", "--prompts", str(PROMPTS), "-j", "3",
        "--out", str(out), "--json", str(raw),
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr + done.stdout
    assert "answers [" in done.stderr  # the progress bar
    assert "gpt-4o-mini" in done.stdout and LOCAL in done.stdout  # the table

    cases = PROMPTS.read_text().count("\n")
    data = json.loads(raw.read_text())
    calls = data["calls"]
    assert len(calls) == 2 * cases and not [c for c in calls if c["error"]]
    assert len(cloud.chat_calls()) == cases
    summary = {row["model"]: row for row in data["summary"]}

    # quality: the fake cloud model always says "positive" → right on exactly one case (sent-1)
    cloud_calls = [c for c in calls if c["model"] == "gpt-4o-mini"]
    assert sorted(c["case_id"] for c in cloud_calls if c["score"] == 1.0) == ["sent-1"]
    assert summary["gpt-4o-mini"]["quality"] == pytest.approx(1 / cases)
    assert all(c["deployment"] == "gpt-4o-mini" and c["output_tokens"] == 2 for c in cloud_calls)

    # cost: the report against the gateway's own accounting (/metrics), and the ledger if present
    by_model = metric_totals(gateway.url, "unigate_cost_usd_total", "model")
    assert summary["gpt-4o-mini"]["cost_total"] == pytest.approx(by_model["gpt-4o-mini"], rel=1e-6)
    assert summary["gpt-4o-mini"]["cost_total"] > 0
    assert summary[LOCAL]["cost_total"] == by_model.get(LOCAL, 0.0) == 0.0
    requests = metric_totals(gateway.url, "unigate_requests_total", "model")
    assert requests == {LOCAL: cases, "gpt-4o-mini": cases}
    tokens_out = sum(c["output_tokens"] for c in calls if c["model"] == LOCAL)
    local_tokens = metric_totals(gateway.url, "unigate_tokens_total", "type")
    assert local_tokens["output"] == tokens_out + 2 * cases
    ledger = ledger_cost_by_model(gateway.url)
    if ledger is not None:  # the accounts package keeps a ledger: it must agree to the nano-dollar
        assert ledger["gpt-4o-mini"] == pytest.approx(summary["gpt-4o-mini"]["cost_total"], abs=1e-9)
        assert ledger[LOCAL] == 0.0

    # the local model really answered and was timed
    local = summary[LOCAL]
    assert local["latency_p50"] > 0 and local["ttft_p50"] is not None and local["tokens_per_second"] > 0

    # the HTML report: self-contained, with the charts and the same numbers embedded
    html = out.read_text()
    assert '<svg id="quality-cost"' in html and 'id="dist-latency_ms"' in html and 'id="dist-ttft_ms"' in html
    assert not re.search(r"(src|href)=['\"]https?://", html)
    embedded = json.loads(re.search(r"id='compare-data'>(.*?)</script>", html, re.S).group(1).replace("<\\/", "</"))
    assert {r["model"]: r["cost_total"] for r in embedded["summary"]} == {
        m: r["cost_total"] for m, r in summary.items()
    }
    assert html.count("data-case=") == cases


async def test_in_process_judge_single_and_pairwise():
    answers = await FakeUpstream(default=Mode(text="the answer", completion_tokens=3)).start()
    judge = await FakeUpstream(default=Mode(text="Fine.\nScore: 8\nWinner: A")).start()
    config = validate(
        {
            "local_model": {"enabled": False},
            "discover_providers": False,
            "models": [
                openai_model("small", answers.base_url),
                openai_model("big", answers.base_url),
                {**openai_model("judge", judge.base_url), "pricing": {"input_per_mtok": 1, "output_per_mtok": 1}},
            ],
        }
    )
    cases = [
        parse_case({"prompt": "why?", "rubric": "be right"}, 0, "t"),
        parse_case({"prompt": "say x", "expected": "x"}, 1, "t"),
    ]
    try:
        gateway = Gateway(config, environ={})
        await gateway.start()
        transport = InProcessTransport(gateway)
        single = await run(transport, ["small", "big"], cases, judge="judge", quiet=True)
        pairwise = await run(transport, ["small", "big"], cases, judge="judge", judge_mode="pairwise", quiet=True)
        await transport.aclose()
    finally:
        await answers.stop()
        await judge.stop()
        await asyncio.sleep(0)
    assert single.calls["small"]["1"].score == pytest.approx(7 / 9, abs=1e-4)
    assert single.calls["small"]["2"].score == 0.0  # deterministic check, not judged
    assert len(single.judge_calls) == 2 and single.judge_cost > 0
    # "Winner: A" in both orders: one win and one loss for "big" against the baseline "small"
    assert pairwise.calls["big"]["1"].score == 0.5 and pairwise.calls["small"]["1"].score == 0.5
    assert len(pairwise.judge_calls) == 2
    assert len(judge.chat_calls()) == 4
    rows = {r.model: r for r in summarize(single)}
    assert rows["small"].quality == pytest.approx((7 / 9) / 2, abs=1e-4)
