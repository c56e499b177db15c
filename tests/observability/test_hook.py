"""The observability hook on real RequestContexts: label bounds, auto routing, logs, time series."""

from __future__ import annotations

import asyncio
import io
import json
import logging

import pytest
from prometheus_client.parser import text_string_to_metric_families

from unigate.config import ObservabilityConfig, validate
from unigate.context import Principal, RequestContext
from unigate.errors import UpstreamTimeout
from unigate.gateway import Gateway
from unigate.observability.hook import ObservabilityHook
from unigate.observability.logs import LogSetup, request_fields
from unigate.observability.metrics import BoundedLabel
from unigate.observability.timeseries import TimeSeries, percentile
from unigate.routing.router import Attempt
from unigate.types import Deployment


async def finish(hook, ctx) -> None:
    """``after`` records on the loop's next turn (off the response path): let that turn run."""
    await hook.after(ctx)
    await asyncio.sleep(0)


def make_gateway() -> Gateway:
    config = validate(
        {
            "local_model": {"enabled": False},
            "discover_providers": False,
            "models": [{"name": "m1", "deployments": [{"provider": "openai", "model": "up-1", "api_key": "k"}]}],
        }
    )
    return Gateway(config, environ={})


def ctx_for(model: str = "m1", *, team: str | None = None, key: str = "k1", status: str = "ok") -> RequestContext:
    ctx = RequestContext(
        request_id="req_1",
        principal=Principal("key", key_id=key, key_name=f"name-{key}", team_id=team),
        model=model,
        stream=True,
    )
    ctx.trace.deployment = Deployment(id=model, public_name=model, provider="openai", model="up-1")
    ctx.trace.attempts.append(Attempt(model))
    ctx.trace.ttft_ms = 12.0
    ctx.usage = {"prompt_tokens": 3, "completion_tokens": 4, "prompt_tokens_details": {"cached_tokens": 2}}
    ctx.cost = 0.001
    ctx.latency_ms = 40.0
    ctx.status = status
    return ctx


def samples(hook: ObservabilityHook) -> list[tuple[str, dict[str, str], float]]:
    assert hook.metrics is not None
    text = hook.metrics.render().decode()
    return [(s.name, s.labels, s.value) for f in text_string_to_metric_families(text) for s in f.samples]


async def test_team_and_model_labels_are_bounded_and_keys_never_appear():
    hook = ObservabilityHook(make_gateway().groups, ObservabilityConfig(log_requests=False))
    assert hook.metrics is not None
    hook.metrics.labels.team = BoundedLabel(cap=3)
    hook.metrics.labels.model = BoundedLabel(["m1"], cap=2)
    for i in range(10):
        ctx = ctx_for(team=f"team-{i}", key=f"sk-secret-{i}")
        await hook.before(ctx, {"messages": []})
        await finish(hook, ctx)
    for i in range(5):
        ctx = ctx_for(model=f"openai/dyn-{i}")
        await hook.before(ctx, {})
        await finish(hook, ctx)
    rows = samples(hook)
    teams = {lab["team"] for name, lab, _ in rows if name == "unigate_requests_total"}
    assert teams == {"team-0", "team-1", "team-2", "other", "none"}
    models = {lab["model"] for name, lab, _ in rows if name == "unigate_requests_total"}
    assert models == {"m1", "openai/dyn-0", "openai/dyn-1", "other"}
    assert sum(v for name, lab, v in rows if name == "unigate_requests_total") == 15
    assert sum(v for name, lab, v in rows if name == "unigate_tokens_total" and lab["type"] == "cached") == 30
    assert not [lab for _, lab, _ in rows if any("secret" in v or "name-" in v for v in lab.values())]


async def test_errors_by_class_and_auto_routing_choices():
    hook = ObservabilityHook(make_gateway().groups, ObservabilityConfig(log_requests=False))
    ctx = ctx_for(status="error")
    ctx.error = UpstreamTimeout("slow")
    ctx.trace.attempts[0].error = "UpstreamTimeout"
    await hook.before(ctx, {})
    await finish(hook, ctx)
    ctx = ctx_for()
    ctx.extras["auto"] = {"policy": "auto", "chosen": "m1", "tier": 0, "estimated_saving_usd": 0.25}
    await hook.before(ctx, {})
    await finish(hook, ctx)
    rows = samples(hook)
    assert (
        "unigate_errors_total",
        {"model": "m1", "deployment": "m1", "provider": "openai", "team": "none", "error": "UpstreamTimeout"},
        1.0,
    ) in rows
    assert ("unigate_attempt_failures_total", {"deployment": "m1", "error": "UpstreamTimeout"}, 1.0) in rows
    assert ("unigate_auto_route_choices_total", {"requested": "auto", "chosen": "m1"}, 1.0) in rows
    assert ("unigate_auto_route_estimated_saving_usd_total", {"chosen": "m1"}, 0.25) in rows
    assert [v for n, lab, v in rows if n == "unigate_in_flight_requests"] == [0.0]


async def test_health_state_comes_from_the_routers_health():
    gateway = make_gateway()

    class Health:
        def state(self, deployment_id: str) -> str:
            return "cooling_down"

    hook = ObservabilityHook(gateway.groups, ObservabilityConfig(log_requests=False), health=Health())
    rows = samples(hook)
    assert (
        "unigate_deployment_state",
        {"model": "m1", "deployment": "m1", "provider": "openai", "state": "cooling_down"},
        1.0,
    ) in rows
    assert (
        "unigate_deployment_state",
        {"model": "m1", "deployment": "m1", "provider": "openai", "state": "healthy"},
        0.0,
    ) in rows
    assert ("unigate_deployment_cooling_down", {"model": "m1", "deployment": "m1", "provider": "openai"}, 1.0) in rows


@pytest.mark.parametrize("fmt", ["json", "text"])
async def test_request_log_formats_and_prompts_only_when_enabled(fmt):
    stream = io.StringIO()
    setup = LogSetup(fmt=fmt, level="INFO", stream=stream)
    try:
        for log_prompts in (False, True):
            hook = ObservabilityHook(
                make_gateway().groups, ObservabilityConfig(log_prompts=log_prompts, metrics=False), logs=setup
            )
            ctx = ctx_for()
            await hook.before(ctx, {"messages": [{"role": "user", "content": f"PROMPT-{log_prompts}"}]})
            await finish(hook, ctx)
        logging.getLogger("unigate.test").warning("plain message")
    finally:
        setup.close()
    # request lines come from the queue thread, other logs directly: order between them is free
    plain = [line for line in stream.getvalue().splitlines() if "plain message" in line]
    lines = [line for line in stream.getvalue().splitlines() if "req_1" in line] + plain
    assert len(lines) == 3
    assert "PROMPT-False" not in stream.getvalue() and "PROMPT-True" in lines[1]
    if fmt == "json":
        first = json.loads(lines[0])
        assert first["request_id"] == "req_1" and first["key_name"] == "name-k1" and first["ttft_ms"] == 12.0
        assert first["input_tokens"] == 3 and first["cached_tokens"] == 2 and first["status"] == "ok"
        assert json.loads(lines[2])["msg"] == "plain message"
    else:
        assert "request_id=req_1" in lines[0] and "deployment=m1" in lines[0] and "latency_ms=40.0" in lines[0]
        assert lines[2].endswith("unigate.test plain message")


def test_request_fields_never_include_the_key_secret():
    ctx = ctx_for()
    ctx.principal = Principal("key", key_id="key_1", key_name="app", metadata={"secret": "sk-live-abc"})
    fields = request_fields(ctx)
    assert "sk-live-abc" not in json.dumps(fields) and fields["key_name"] == "app"
    assert fields["attempts"] == 1 and fields["failed_attempts"] is None


def test_time_series_overview_percentiles_and_key_filter():
    now = [1_000_000.0]
    series = TimeSeries(clock=lambda: now[0])
    for i in range(100):
        series.record(
            ("m", "d", "p", "k1" if i % 2 else "k2"),
            error=i < 10,
            cost=0.01,
            input_tokens=1,
            output_tokens=2,
            latency_ms=float(i + 1),
            ttft_ms=None,
        )
        now[0] += 1
    overview = series.overview("5m")
    assert overview["totals"]["requests"] == 100 and overview["totals"]["errors"] == 10
    assert overview["totals"]["error_rate"] == 0.1
    assert overview["totals"]["p50_ms"] == pytest.approx(50, rel=0.1)
    assert overview["totals"]["p95_ms"] == pytest.approx(95, rel=0.1)
    assert sum(p["requests"] for p in overview["points"]) == 100
    assert series.overview("5m", key_id="k1")["totals"]["requests"] == 50
    assert series.by_deployment("1h")[0]["share"] == 1.0
    assert series.spend_since(0) == pytest.approx(1.0)
    now[0] += 25 * 3600
    series.record(
        ("m", "d", "p", None), error=False, cost=None, input_tokens=0, output_tokens=0, latency_ms=None, ttft_ms=None
    )
    assert series.overview("24h")["totals"]["requests"] == 1  # older buckets dropped
    assert percentile({}, 0.5) is None


def test_time_series_memory_is_bounded_by_deployments_and_active_keys_not_by_time():
    """500 keys busy all day: the fine tier holds one aggregate per deployment per 10 s for an
    hour, the per-key tier one per key per 5 minutes for 24 h — then nothing more."""
    now = [1_000_000.0]
    series = TimeSeries(clock=lambda: now[0])

    def busy_minute() -> None:
        for _tick in range(6):  # every key once per 10 s bucket
            for key in range(500):
                series.record(
                    ("m", "d", "p", f"k{key}"),
                    error=False,
                    cost=0.001,
                    input_tokens=1,
                    output_tokens=1,
                    latency_ms=5.0,
                    ttft_ms=None,
                )
            now[0] += 10

    for _ in range(30):
        busy_minute()
    half_hour = series.held()
    assert half_hour <= 180 + 6 * 500 + 500  # 10 s buckets per deployment; 5 min buckets per key
    for _ in range(26):  # a busy minute every hour, past the 24 h kept
        now[0] += 3600 - 60
        busy_minute()
    assert series.held() <= 6 + 24 * 500 + 500  # the last hour's fine buckets; 24 h of hourly key buckets
    admin, mine = series.overview("5m"), series.overview("5m", key_id="k7")
    assert admin["step"] == 10 and mine["step"] == 300  # a key's view is in 5-minute steps
    assert series.overview("24h", key_id="k7")["totals"]["requests"] in (24 * 6, 25 * 6)  # older hours dropped
