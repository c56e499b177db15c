"""Pure parts of routing: retry dispositions and backoff, strategies, pre-flight, request overrides."""

from __future__ import annotations

import pytest

from unigate.config import ModelRoutingConfig
from unigate.errors import (
    AuthError,
    BadRequest,
    ContentFiltered,
    ContextWindowExceeded,
    NotFound,
    ProviderError,
    UpstreamConnectionError,
    UpstreamRateLimited,
    UpstreamServerError,
    UpstreamTimeout,
)
from unigate.routing.fallbacks import NO_OPTIONS, chain, parse_options
from unigate.routing.preflight import Capability, Needs, check, needs
from unigate.routing.retry import Disposition, RetryPolicy, backoff, disposition
from unigate.routing.stats import Stats
from unigate.routing.strategies import StrategyContext, order
from unigate.types import Deployment


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (UpstreamRateLimited("x"), Disposition.RETRY),
        (UpstreamServerError("x"), Disposition.RETRY),
        (UpstreamTimeout("x"), Disposition.RETRY),
        (UpstreamConnectionError("x"), Disposition.RETRY),
        (ContextWindowExceeded("x"), Disposition.CONTEXT),
        (ContentFiltered("x"), Disposition.CONTENT),
        (ProviderError("x", status=401), Disposition.NEXT),
        (ProviderError("x", status=404), Disposition.NEXT),
        (ProviderError("x", status=400), Disposition.FATAL),
        (ProviderError("x", status=422), Disposition.FATAL),
        (BadRequest("x"), Disposition.FATAL),
        (AuthError("x"), Disposition.FATAL),
    ],
)
def test_disposition_by_class(error, expected):
    assert disposition(error) is expected


def test_backoff_is_jittered_exponential_and_honours_retry_after():
    policy = RetryPolicy(base=0.1, cap=0.3, max_retry_after=5)
    assert all(0 <= backoff(1, None, policy) <= 0.1 for _ in range(100))
    assert all(0 <= backoff(5, None, policy) <= 0.3 for _ in range(100))
    assert len({backoff(3, None, policy) for _ in range(20)}) > 1
    assert 2.0 <= backoff(1, 2.0, policy) <= 2.1
    assert backoff(1, 6.0, policy) is None


def dep(id: str, **kw) -> Deployment:
    return Deployment(id=id, public_name="g", provider="openai", model=kw.pop("model", "m"), **kw)


def ctx(prices: dict[str, float | None] | None = None, stream: bool = False) -> StrategyContext:
    return StrategyContext(Stats(), lambda d: (prices or {}).get(d.id), stream=stream)


def test_weighted_respects_weights_and_keeps_zero_weight_last():
    deployments = [dep("a", weight=9), dep("b", weight=1), dep("z", weight=0)]
    c = ctx()
    firsts = [order("weighted", "g", deployments, c)[0].id for _ in range(2000)]
    assert 0.85 < firsts.count("a") / 2000 < 0.95
    assert all(order("weighted", "g", deployments, c)[-1].id == "z" for _ in range(50))


def test_least_inflight_latency_cost_and_usage():
    a, b = dep("a", rpm=10), dep("b", rpm=10)
    c = ctx({"a": 5.0, "b": 1.0})
    c.stats.of("a").started()
    assert order("least_inflight", "g", [a, b], c)[0].id == "b"
    c.stats.of("a").observe(50.0, 400.0)
    c.stats.of("b").observe(80.0, 100.0)
    assert order("lowest_latency", "g", [a, b], c)[0].id == "b"
    c.stream = True
    assert order("lowest_latency", "g", [a, b], c)[0].id == "a"
    assert order("lowest_cost", "g", [a, b], c)[0].id == "b"
    for _ in range(5):
        c.stats.of("b").started()
    assert order("usage_based", "g", [a, b], c)[0].id == "a"  # a: 1/10 used, b: 5/10


def test_unmeasured_deployment_is_explored_first():
    c = ctx()
    c.stats.of("a").observe(None, 10.0)
    assert order("lowest_latency", "g", [dep("a"), dep("b")], c)[0].id == "b"


def test_needs_and_check():
    request = {
        "messages": [{"role": "user", "content": [{"type": "text", "text": "x" * 40}, {"type": "image_url"}]}],
        "tools": [{"type": "function"}],
        "response_format": {"type": "json_schema", "json_schema": {}},
    }
    need = needs(request)
    assert need.tools and need.vision and need.json_schema and need.tokens > 800
    assert check(Capability(), need) is None  # unknown never skips
    assert check(Capability(context_window=100), need) == "context_window"
    assert check(Capability(tools=False), need) == "tools"
    assert check(Capability(vision=False), need) == "vision"
    assert check(Capability(json_schema=False), need) == "json_schema"
    assert check(Capability(tools=False), Needs()) is None


def test_parse_options_and_chains():
    groups = {"a": 1, "b": 2, "c": 3}
    assert parse_options({"model": "a"}, groups) is NO_OPTIONS
    opts = parse_options({"model": "a", "models": ["a", "b"], "route": {"fallbacks": ["c", "b"]}}, groups)
    assert opts.fallbacks == ("b", "c")
    with pytest.raises(NotFound):
        parse_options({"model": "a", "models": ["b"]}, groups, allowed=frozenset({"a"}))
    with pytest.raises(BadRequest):
        parse_options({"model": "a", "route": {"retries": 9}}, groups)
    with pytest.raises(BadRequest):
        parse_options({"model": "a", "route": {"fallback": ["b"]}}, groups)
    routing = ModelRoutingConfig(fallbacks=["b"], context_window_fallbacks=["c"])
    assert chain(routing, Disposition.RETRY, NO_OPTIONS, True) == ["b"]
    assert chain(routing, Disposition.CONTEXT, NO_OPTIONS, True) == ["c"]
    assert chain(routing, Disposition.CONTENT, NO_OPTIONS, True) == ["b"]
    request = parse_options({"model": "a", "models": ["c"]}, groups)
    assert chain(routing, Disposition.RETRY, request, True) == ["c"]
    assert chain(routing, Disposition.RETRY, request, False) == ["b"]  # request chains apply to the primary
