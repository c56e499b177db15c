"""Each hard constraint eliminates exactly the candidates it should, and reports itself."""

from __future__ import annotations

from dataclasses import replace

import pytest

from unigate.routing.auto.candidates import Candidate
from unigate.routing.auto.constraints import Limits, privacy_ok, reject_reason
from unigate.routing.auto.request import Needs


def cand(name: str, **kw: object) -> Candidate:
    base = Candidate(
        name=name,
        provider="openai",
        model=name,
        deployment_ids=(name,),
        providers=frozenset({"openai"}),
        regions=(None,),
        local=False,
        context_window=128_000,
        max_output_tokens=16_000,
        tools=True,
        vision=True,
        json_schema=True,
        quality=0.8,
        price=1.0,
    )
    return replace(base, **kw)  # type: ignore[arg-type]


LOCAL = cand(
    "local",
    provider="local",
    providers=frozenset({"local"}),
    local=True,
    context_window=2048,
    max_output_tokens=2048,
    tools=False,
    vision=False,
    json_schema=False,
    quality=0.15,
    price=0.0,
)
MINI = cand("mini", quality=0.7, price=0.3)
FLAGSHIP = cand("flagship", quality=0.95, price=5.0)
EU = cand(
    "eu",
    provider="mistral",
    providers=frozenset({"mistral"}),
    regions=("eu-west-1",),
    vision=False,
    quality=0.75,
    price=0.5,
)
NO_JSON = cand("nojson", json_schema=False, quality=0.6, price=0.2)
UNPRICED = cand("unpriced", price=None, quality=0.9)
ALL = [LOCAL, MINI, FLAGSHIP, EU, NO_JSON, UNPRICED]


class Live:
    def __init__(self, down=(), latency=None, ttft=None):
        self.down = set(down)
        self.latency = latency or {}
        self.ttft = ttft or {}

    def healthy(self, deployment_id):
        return deployment_id not in self.down

    def latency_ms(self, deployment_id):
        return self.latency.get(deployment_id)

    def ttft_ms(self, deployment_id):
        return self.ttft.get(deployment_id)


def rejected(needs=None, limits=None, live=None, candidates=ALL) -> dict[str, str]:
    out = {}
    for c in candidates:
        reason = reject_reason(c, needs or Needs(prompt_tokens=10), limits or Limits(), live)
        if reason is not None:
            out[c.name] = reason
    return out


def test_nothing_rejected_without_needs_or_limits():
    assert rejected() == {}


def test_tools_eliminate_models_without_tool_calling():
    assert rejected(Needs(tools=True)) == {"local": "tools"}


def test_images_eliminate_models_without_vision():
    assert rejected(Needs(vision=True)) == {"local": "vision", "eu": "vision"}


def test_json_schema_eliminates_models_without_it():
    assert rejected(Needs(json_schema=True)) == {"local": "json_schema", "nojson": "json_schema"}


@pytest.mark.parametrize(
    ("prompt_tokens", "output_tokens", "expected"),
    [
        (1700, 256, {}),  # 1956 ≤ 2048
        (1800, 256, {"local": "context"}),  # 2056 > 2048
        (100, 4000, {"local": "context"}),  # max_tokens beyond the local model's output limit
        (127_000, 2000, {n: "context" for n in ("local", "mini", "flagship", "eu", "nojson", "unpriced")}),
    ],
)
def test_context_window_against_the_token_estimate(prompt_tokens, output_tokens, expected):
    assert rejected(Needs(prompt_tokens=prompt_tokens, output_tokens=output_tokens)) == expected


def test_allowed_models_of_the_key():
    limits = Limits(allowed_models=frozenset({"mini", "local"}))
    assert set(rejected(limits=limits)) == {"flagship", "eu", "nojson", "unpriced"}
    assert set(rejected(limits=limits).values()) == {"not_allowed"}


def test_local_only_privacy_keeps_only_local_models():
    out = rejected(limits=Limits(privacy=["local-only"]))
    assert "local" not in out and len(out) == len(ALL) - 1
    assert set(out.values()) == {"privacy"}


def test_provider_and_region_allowlists():
    assert set(rejected(limits=Limits(privacy=[{"providers": ["mistral", "local"]}]))) == {
        "mini",
        "flagship",
        "nojson",
        "unpriced",
    }
    # regions: a deployment without a known region never passes a region allowlist
    assert set(rejected(limits=Limits(privacy=[{"regions": ["eu-west-1"]}]))) == {
        "local",
        "mini",
        "flagship",
        "nojson",
        "unpriced",
    }


def test_every_privacy_rule_applies_a_request_can_only_tighten():
    limits = Limits(privacy=[{"providers": ["mistral", "local"]}, "local-only"])
    assert "local" not in rejected(limits=limits) and "eu" in rejected(limits=limits)


def test_privacy_needs_every_deployment_of_a_group_to_comply():
    mixed = cand("mixed", providers=frozenset({"local", "openai"}), local=False)
    assert not privacy_ok(mixed, "local-only")
    assert not privacy_ok(mixed, {"providers": ["local"]})
    assert privacy_ok(mixed, {"providers": ["local", "openai"]})


def test_price_ceiling_on_the_blended_price_and_unknown_prices():
    assert rejected(limits=Limits(max_price_per_mtok=0.5)) == {"flagship": "price", "unpriced": "price"}


def test_minimum_quality():
    assert rejected(limits=Limits(min_quality=0.7)) == {"local": "quality", "nojson": "quality"}


def test_unhealthy_models_are_skipped_only_when_every_deployment_is_down():
    group = cand("group", deployment_ids=("group#a", "group#b"))
    assert rejected(live=Live(down={"mini", "group#a"}), candidates=[*ALL, group]) == {"mini": "unhealthy"}
    assert rejected(live=Live(down={"group#a", "group#b"}), candidates=[group]) == {"group": "unhealthy"}


def test_latency_objective_against_live_statistics_unknown_passes():
    live = Live(latency={"mini": 900.0, "flagship": 4000.0, "eu": 1500.0})
    assert rejected(limits=Limits(max_latency_ms=1000), live=live) == {"flagship": "latency", "eu": "latency"}


def test_ttft_objective_uses_the_best_healthy_deployment():
    group = cand("group", deployment_ids=("g#slow", "g#fast"))
    live = Live(ttft={"g#slow": 3000.0, "g#fast": 200.0, "flagship": 2500.0})
    assert rejected(limits=Limits(max_ttft_ms=500), live=live, candidates=[group, FLAGSHIP]) == {"flagship": "ttft"}
    live.down.add("g#fast")  # the fast one is down: the group is judged by the slow one
    assert rejected(limits=Limits(max_ttft_ms=500), live=live, candidates=[group]) == {"group": "ttft"}


def test_first_failing_constraint_is_the_reported_one():
    limits = Limits(privacy=["local-only"], max_price_per_mtok=0.1)
    assert rejected(Needs(tools=True), limits)["flagship"] == "privacy"
    assert rejected(Needs(tools=True), limits)["local"] == "tools"
