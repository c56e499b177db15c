"""The routing loop in-process: a real Gateway, real OpenAI-compatible provider, fake upstreams
on loopback. Counts upstream calls exactly (retries, no duplicates for a 400, fallbacks)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.support.fake_upstream import FakeUpstream, Mode
from unigate.config import validate
from unigate.context import Principal
from unigate.errors import BadRequest, NotFound, ProviderError, UpstreamServerError
from unigate.gateway import Gateway

FAST = {"connect": 1.0, "first_token": 0.5, "total": 3.0}


@pytest.fixture
async def upstreams() -> AsyncIterator[Any]:
    started: list[FakeUpstream] = []

    async def make(default: Mode | None = None, name: str = "up") -> FakeUpstream:
        upstream = await FakeUpstream(default=default or Mode(), name=name).start()
        started.append(upstream)
        return upstream

    yield make
    for upstream in started:
        await upstream.stop()


def dep(upstream: FakeUpstream, id: str, model: str = "gpt-4o-mini", **extra: Any) -> dict[str, Any]:
    return {
        "provider": "openai",
        "model": model,
        "id": id,
        "api_base": upstream.base_url,
        "api_key": "k",
        "timeouts": FAST,
        **extra,
    }


async def gateway(models: list[dict[str, Any]]) -> Gateway:
    config = validate({"models": models, "local_model": {"enabled": False}, "discover_providers": False})
    gw = Gateway(config)
    await gw.start()
    return gw


def msg(text: str = "hi") -> dict[str, Any]:
    return {"model": "m", "messages": [{"role": "user", "content": text}]}


async def collect(gw: Gateway, request: dict[str, Any]) -> tuple[str, Any]:
    result = await gw.chat_stream(request)
    text = ""
    async for chunk in result.chunks:
        for choice in chunk.get("choices") or ():
            text += (choice.get("delta") or {}).get("content") or ""
    return text, result.context


async def test_retry_then_next_deployment_with_trace(upstreams):
    bad = await upstreams(Mode("status", status=503))
    good = await upstreams()
    gw = await gateway(
        [{"name": "m", "deployments": [dep(bad, "bad"), dep(good, "good")], "routing": {"strategy": "ordered"}}]
    )
    try:
        result = await gw.chat(msg())
        assert result.response["choices"][0]["message"]["content"] == "echo: hi"
        assert len(bad.chat_calls()) == 2  # first try + one retry (retries: 1)
        assert len(good.chat_calls()) == 1
        assert result.context.trace.header() == "3;bad=UpstreamServerError;bad=UpstreamServerError"
        assert result.context.deployment.id == "good"
    finally:
        await gw.aclose()


async def test_bad_request_is_never_retried_or_sent_elsewhere(upstreams):
    bad = await upstreams(Mode("status", status=400, message="bad 'temperature'"))
    other = await upstreams()
    gw = await gateway(
        [
            {"name": "m", "deployments": [dep(bad, "a"), dep(other, "b")], "routing": {"strategy": "ordered"}},
            {"name": "f", "deployments": [dep(other, "f")]},
        ]
    )
    try:
        with pytest.raises(ProviderError) as info:
            await gw.chat({**msg(), "models": ["f"]})
        assert info.value.http_status == 400
        assert len(bad.chat_calls()) == 1 and other.chat_calls() == []
        assert gw.health.state("a") == "healthy"
    finally:
        await gw.aclose()


async def test_429_cools_down_without_waiting_and_probe_brings_it_back(upstreams):
    limited = await upstreams()
    limited.script(Mode("status", status=429, retry_after=0.3))
    good = await upstreams()
    gw = await gateway(
        [{"name": "m", "deployments": [dep(limited, "lim"), dep(good, "ok")], "routing": {"strategy": "ordered"}}]
    )
    try:
        first = await gw.chat(msg())
        assert first.context.deployment.id == "ok"
        assert len(limited.chat_calls()) == 1  # 429 trips at once: no retry on it, no wait
        assert gw.health.state("lim") == "cooling_down"
        assert gw.health.describe("lim")["last_error"] == "UpstreamRateLimited"
        second = await gw.chat(msg())
        assert second.context.trace.skipped == [("lim", "cooldown")]
        assert len(limited.chat_calls()) == 1
        import asyncio

        await asyncio.sleep(0.35)
        third = await gw.chat(msg())  # half-open: this request is the probe, and it succeeds
        assert third.context.deployment.id == "lim"
        assert gw.health.state("lim") == "healthy"
    finally:
        await gw.aclose()


async def test_repeated_failures_trip_after_allowed_fails(upstreams):
    broken = await upstreams(Mode("reset"))
    good = await upstreams()
    gw = await gateway(
        [
            {
                "name": "m",
                "deployments": [dep(broken, "x"), dep(good, "y")],
                "routing": {"strategy": "ordered", "retries": 0, "allowed_fails": 2, "cooldown": 30},
            }
        ]
    )
    try:
        await gw.chat(msg())
        assert gw.health.state("x") == "healthy"  # one failure: still in rotation
        await gw.chat(msg())
        assert gw.health.state("x") == "cooling_down"
        for _ in range(5):
            await gw.chat(msg())
        assert len(broken.chat_calls()) == 2
    finally:
        await gw.aclose()


async def test_fallback_chain_by_error_class(upstreams):
    small = await upstreams(Mode("status", status=400, message="maximum context length is 10 tokens"))
    large = await upstreams()
    generic = await upstreams()
    gw = await gateway(
        [
            {
                "name": "m",
                "deployments": [dep(small, "small")],
                "routing": {"fallbacks": ["generic"], "context_window_fallbacks": ["large"]},
            },
            {"name": "large", "deployments": [dep(large, "large")]},
            {"name": "generic", "deployments": [dep(generic, "generic")]},
        ]
    )
    try:
        result = await gw.chat(msg())
        assert result.context.deployment.id == "large"
        assert len(small.chat_calls()) == 1 and generic.chat_calls() == []
        assert (b"x-unigate-fallback", b"large") in result.context.trace.extra_headers()
    finally:
        await gw.aclose()


async def test_request_level_models_and_route_object(upstreams):
    down = await upstreams(Mode("status", status=500))
    b = await upstreams()
    gw = await gateway(
        [
            {"name": "m", "deployments": [dep(down, "m")], "routing": {"retries": 0}},
            {"name": "b", "deployments": [dep(b, "b")]},
        ]
    )
    try:
        with pytest.raises(UpstreamServerError):
            await gw.chat(msg())
        result = await gw.chat({**msg(), "models": ["m", "b"]})
        assert result.context.deployment.id == "b"
        result = await gw.chat({**msg(), "route": {"fallbacks": ["b"], "retries": 0}})
        assert result.context.deployment.id == "b"
        assert "models" not in b.chat_calls()[-1].body and "route" not in b.chat_calls()[-1].body
        with pytest.raises(NotFound):
            await gw.chat({**msg(), "models": ["nope"]})
        with pytest.raises(NotFound):  # a key may not reach other models through fallbacks
            await gw.chat({**msg(), "models": ["b"]}, Principal(kind="key", allowed_models=frozenset({"m"})))
        with pytest.raises(BadRequest):
            await gw.chat({**msg(), "route": {"strategy": "fastest"}})
    finally:
        await gw.aclose()


async def test_preflight_skips_small_context_and_missing_capabilities(upstreams):
    small = await upstreams()
    big = await upstreams()
    gw = await gateway(
        [
            {
                "name": "m",
                "deployments": [dep(small, "small", model="tiny-model")],
                "capabilities": {"context_window": 50, "tools": False},
                "routing": {"fallbacks": ["big"]},
            },
            {"name": "big", "deployments": [dep(big, "big", model="big-model")]},
        ]
    )
    try:
        result = await gw.chat(msg("x" * 400))  # ~100 tokens > 50
        assert result.context.deployment.id == "big"
        assert result.context.trace.skipped == [("small", "context_window")]
        assert small.chat_calls() == []
        tools = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]
        result = await gw.chat({**msg(), "tools": tools})
        assert result.context.deployment.id == "big"
        result = await gw.chat(msg())
        assert result.context.deployment.id == "small"
    finally:
        await gw.aclose()


async def test_preflight_last_resort_when_nothing_else_can_serve(upstreams):
    only = await upstreams()
    gw = await gateway(
        [
            {"name": "m", "deployments": [dep(only, "only")], "capabilities": {"context_window": 5}},
            {"name": "other", "deployments": [dep(only, "other")]},
        ]
    )
    try:
        result = await gw.chat({**msg("x" * 400), "models": ["other"]})
        assert result.context.deployment.id == "other"
        result = await gw.chat(msg("x" * 400))  # nothing else: try it anyway
        assert result.context.deployment.id == "only"
    finally:
        await gw.aclose()


async def test_stream_failure_before_first_chunk_falls_back_invisibly(upstreams):
    stalls = await upstreams(Mode("hang"))
    good = await upstreams()
    gw = await gateway(
        [
            {
                "name": "m",
                "deployments": [dep(stalls, "stall"), dep(good, "good")],
                "routing": {"strategy": "ordered", "retries": 0},
            }
        ]
    )
    try:
        text, ctx = await collect(gw, {**msg("stream"), "stream": True})
        assert text == "echo: stream"
        assert ctx.trace.header() == "2;stall=UpstreamTimeout"
    finally:
        await gw.aclose()


async def test_stream_failure_after_first_chunk_raises_or_continues(upstreams):
    cut = await upstreams(Mode("stream_cut", chunks=6))
    good = await upstreams()
    models = [
        {"name": "m", "deployments": [dep(cut, "cut")], "routing": {"fallbacks": ["b"]}},
        {"name": "b", "deployments": [dep(good, "b")]},
    ]
    gw = await gateway(models)
    question = "please tell me a fairly long story"
    try:
        with pytest.raises(Exception) as info:
            await collect(gw, {**msg(question), "stream": True})
        assert "closed the connection" in str(info.value) or "Upstream" in type(info.value).__name__
        assert good.chat_calls() == []
        text, ctx = await collect(gw, {**msg(question), "stream": True, "route": {"continue_on_failure": True}})
        assert text == "echo: " + question  # one uninterrupted answer
        assert ctx.trace.continuations == 1 and ctx.deployment.id == "b"
        prefix = good.chat_calls()[-1].body["messages"][-1]
        assert prefix["role"] == "assistant" and ("echo: " + question).startswith(prefix["content"])
        assert prefix["content"]
    finally:
        await gw.aclose()


async def test_strategies_spread_and_prefer(upstreams):
    a = await upstreams()
    b = await upstreams()
    gw = await gateway(
        [
            {"name": "rr", "deployments": [dep(a, "a"), dep(b, "b")], "routing": {"strategy": "round_robin"}},
            {
                "name": "cheap",
                "deployments": [dep(a, "pricey", model="gpt-4o"), dep(b, "cheap", model="gpt-4o-mini")],
                "routing": {"strategy": "lowest_cost"},
            },
        ]
    )
    try:
        seen = [(await gw.chat({**msg(), "model": "rr"})).context.deployment.id for _ in range(4)]
        assert seen in (["a", "b", "a", "b"], ["b", "a", "b", "a"])
        seen = [(await gw.chat({**msg(), "model": "cheap"})).context.deployment.id for _ in range(3)]
        assert seen == ["cheap"] * 3
    finally:
        await gw.aclose()


async def test_non_stream_ttft_and_stall_timeouts(upstreams):
    hang = await upstreams(Mode("hang"))
    stall = await upstreams(Mode("stall_body"))
    good = await upstreams()
    gw = await gateway(
        [
            {
                "name": "m",
                "deployments": [dep(hang, "hang"), dep(stall, "stall"), dep(good, "good")],
                "routing": {"strategy": "ordered", "retries": 0},
            }
        ]
    )
    try:
        result = await gw.chat(msg())
        assert result.context.trace.header() == "3;hang=UpstreamTimeout;stall=UpstreamTimeout"
    finally:
        await gw.aclose()
