"""AutoRouter over a real Gateway built from config (no network): policies, headers, errors."""

from __future__ import annotations

from typing import Any

import pytest

from unigate.config import validate
from unigate.context import Principal, RequestContext
from unigate.errors import BadRequest, NotFound
from unigate.gateway import Gateway
from unigate.routing.auto.runtime import build_router
from unigate.routing.auto.scoring import Scorers
from unigate.routing.router import Attempt
from unigate.server.http import Request, merge_route_headers
from unigate.types import Deployment


class FixedScorer:
    def __init__(self, value: float) -> None:
        self.value = value
        self.prompts: list[str] = []

    def score(self, prompt: str) -> float:
        self.prompts.append(prompt)
        return self.value


def model(name: str, provider: str, upstream: str, quality: float, price: tuple[float, float], **extra: Any):
    return {
        "name": name,
        "deployments": [{"provider": provider, "model": upstream, "api_key": "k", **extra.pop("deployment", {})}],
        "quality": quality,
        "pricing": {"input_per_mtok": price[0], "output_per_mtok": price[1]},
        **extra,
    }


CONFIG = {
    "local_model": {"enabled": False},
    "discover_providers": False,
    "models": [
        model("tiny", "ollama", "llama3.2:1b", 0.3, (0, 0), capabilities={"context_window": 4096, "tools": False}),
        model("mini", "openai", "gpt-4o-mini", 0.7, (0.15, 0.6)),
        model("flagship", "openai", "gpt-4o", 0.9, (2.5, 10.0)),
        model("eu", "mistral", "mistral-small-latest", 0.65, (0.2, 0.6), deployment={"options": {"region": "eu"}}),
    ],
    "auto": {
        "policies": [
            {"name": "balanced", "threshold": 0.5},
            {"name": "cheap", "candidates": ["tiny", "mini"], "threshold": 0.9},
            {"name": "private", "privacy": "local-only", "threshold": 0.5},
            {"name": "capped", "max_price_per_mtok": 1.0, "threshold": 0.5},
            {"name": "ghost", "candidates": ["mini", "nope"], "threshold": 0.5},
        ]
    },
}


def make(score: float = 0.1, config: dict[str, Any] | None = None, environ: dict[str, str] | None = None):
    gateway = Gateway(validate(config or CONFIG), environ=environ or {})
    scorer = FixedScorer(score)
    router, hook = build_router(gateway.groups, Scorers(loader=lambda name: scorer))
    return gateway, router, hook, scorer


def ctx_for(name: str, principal: Principal | None = None) -> RequestContext:
    return RequestContext(request_id="req_test", principal=principal or Principal(), model=name, stream=False)


def chat(text: str = "hi", model: str = "auto", **extra: Any) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": text}], **extra}


def test_handles_auto_names_but_not_served_models():
    _, router, _, _ = make()
    assert router.handles("auto") and router.handles("auto/cheap") and router.handles("auto/typo")
    assert not router.handles("mini") and not router.handles("automobile")


def test_low_score_picks_the_cheapest_and_high_score_the_strongest():
    _, router, _, scorer = make(score=0.1)
    request = chat("What is 2+2?")
    ctx = ctx_for("auto")
    record = router.decide(ctx, request)
    assert request["model"] == "tiny" and record["chosen"] == "tiny"
    assert scorer.prompts == ["What is 2+2?"]
    scorer.value = 0.8
    request = chat("Prove the Riemann hypothesis")
    router.decide(ctx_for("auto"), request)
    assert request["model"] == "flagship"


def test_three_candidate_frontier_uses_the_middle_tier():
    _, router, _, _ = make(score=0.45)  # required quality 0.3 + 0.9·0.6 = 0.84 ≥ mini's 0.7
    request = chat()
    router.decide(ctx_for("auto/balanced"), request)
    assert request["model"] == "mini"


def test_headers_and_extras_explain_the_choice():
    _, router, _, _ = make(score=0.25)
    ctx = ctx_for("auto")
    router.decide(ctx, chat(tools=[{"type": "function", "function": {"name": "f"}}]))
    headers = ctx.extras["response_headers"]
    assert headers["x-unigate-auto-model"] == ctx.extras["auto"]["chosen"] == "mini"
    assert headers["x-unigate-auto-policy"] == "auto/balanced"
    assert headers["x-unigate-auto-score"] == "0.2500"
    assert headers["x-unigate-auto-threshold"] == "0.5"
    # eu (0.65 quality, dearer than mini) is dominated; tiny has no tools
    assert headers["x-unigate-auto-rejected"] == "tiny=tools;eu=dominated"
    auto = ctx.extras["auto"]
    assert {"chosen", "score", "threshold", "policy", "rejected", "estimated_saving_usd"} <= auto.keys()
    assert auto["rejected"] == {"tiny": "tools", "eu": "dominated"}


def test_unknown_policy_is_404_listing_the_policies():
    _, router, _, _ = make()
    with pytest.raises(NotFound) as info:
        router.decide(ctx_for("auto/balancd"), chat())
    assert info.value.code == "model_not_found"
    for name in ("auto", "auto/balanced", "auto/cheap", "auto/best", "auto/private"):
        assert name in info.value.message


def test_no_candidate_left_is_400_naming_each_candidate_and_why():
    _, router, _, _ = make()
    with pytest.raises(BadRequest) as info:
        router.decide(ctx_for("auto/private"), chat(tools=[{"type": "function", "function": {"name": "f"}}]))
    message = info.value.message
    assert info.value.http_status == 400 and "auto/private" in message
    assert "tiny: does not support tools" in message
    for name in ("mini", "flagship", "eu"):
        assert f"{name}: excluded by the privacy policy" in message
    assert info.value.response_headers()["x-unigate-auto-rejected"].startswith("tiny=tools;mini=privacy")


def test_policy_price_ceiling_and_candidate_list():
    _, router, _, _ = make(score=0.99)
    request = chat()
    ctx = ctx_for("auto/capped")
    router.decide(ctx, request)
    assert request["model"] == "mini" and ctx.extras["auto"]["rejected"]["flagship"] == "price"
    request = chat()
    router.decide(ctx_for("auto/cheap"), request)  # candidates: tiny, mini only; 0.99 ≥ 0.9
    assert request["model"] == "mini"


def test_unserved_candidates_are_reported_unavailable():
    _, router, _, _ = make()
    ctx = ctx_for("auto/ghost")
    router.decide(ctx, chat())
    assert ctx.extras["auto"]["rejected"] == {"nope": "unavailable"}


def test_request_route_overrides_tighten_and_are_not_sent_upstream():
    _, router, _, _ = make(score=0.99)
    request = chat(route={"privacy": "local-only", "fallbacks": ["x"]})
    router.decide(ctx_for("auto"), request)
    assert request["model"] == "tiny"
    assert request["route"] == {"fallbacks": ["x"]}  # keys routing itself reads stay
    request = chat(route={"max_price_per_mtok": 1.0})
    router.decide(ctx_for("auto"), request)
    assert request["model"] == "mini" and "route" not in request
    with pytest.raises(BadRequest):
        router.decide(ctx_for("auto"), chat(route={"privacy": "nowhere"}))


def test_privacy_header_becomes_route_privacy():
    _, router, _, _ = make(score=0.99)
    request = chat()
    headers = [(b"content-type", b"application/json"), (b"x-unigate-privacy", b"local-only")]
    merge_route_headers(Request({"headers": headers}, None), request)  # type: ignore[arg-type]
    router.decide(ctx_for("auto"), request)
    assert request["model"] == "tiny"


def test_key_allowed_models_constrain_the_choice():
    _, router, _, _ = make(score=0.99)
    request = chat()
    ctx = ctx_for("auto", Principal("key", allowed_models=frozenset({"tiny", "mini"})))
    router.decide(ctx, request)
    assert request["model"] == "mini"
    assert ctx.extras["auto"]["rejected"]["flagship"] == "not_allowed"


def test_best_policy_does_not_score_and_picks_the_strongest():
    _, router, _, scorer = make(score=0.0)
    request = chat()
    ctx = ctx_for("auto/best")
    router.decide(ctx, request)
    assert request["model"] == "flagship" and scorer.prompts == []
    assert "x-unigate-auto-score" not in ctx.extras["response_headers"]


def test_missing_router_falls_back_to_the_strong_tier():
    gateway = Gateway(validate(CONFIG), environ={})

    def broken(name: str) -> Any:
        raise FileNotFoundError("no artifact")

    router, _ = build_router(gateway.groups, Scorers(loader=broken))
    request = chat()
    router.decide(ctx_for("auto"), request)
    assert request["model"] == "flagship"


async def test_hook_fills_the_estimated_saving_and_live_stats():
    _, router, hook, _ = make(score=0.1)
    ctx = ctx_for("auto")
    router.decide(ctx, chat())
    ctx.model = "tiny"
    ctx.trace.deployment = Deployment(id="tiny", public_name="tiny", provider="ollama", model="llama3.2:1b")
    ctx.trace.attempts.append(Attempt("tiny", latency_ms=120.0))
    ctx.usage = {"prompt_tokens": 1000, "completion_tokens": 500, "total_tokens": 1500}
    ctx.cost = 0.0
    await hook.after(ctx)
    # same usage on flagship: 1000·2.5/1e6 + 500·10/1e6
    assert ctx.extras["auto"]["estimated_saving_usd"] == pytest.approx(0.0075)
    assert hook.live.latency_ms("tiny") == pytest.approx(120.0)


def test_zero_config_auto_covers_every_served_chat_model_once():
    config = {"local_model": {"enabled": True}, "discover_providers": True}
    _, router, _, _ = make(config=config, environ={"OPENAI_API_KEY": "sk-x"})
    names = [c.name for c in router.policy("auto").candidates]
    assert "local/smollm2-135m" in names and "openai/gpt-4o" in names
    assert "gpt-4o" not in names  # an alias of openai/gpt-4o
    assert not any("embedding" in n for n in names)
    assert router.policy("auto").threshold == pytest.approx(0.7)  # 30% strong by default


class ProfileScorer(FixedScorer):
    """Predicts success per model profile, like the learned router's ``explain``."""

    profiles = ("gpt-4o", "gpt-4o-mini", "llama-3.1-8b")

    def __init__(self, success: dict[str, float]) -> None:
        super().__init__(0.5)
        self.success = success

    def explain(self, prompt: str, profiles: list[str]) -> tuple[float, dict[str, float]]:
        self.prompts.append(prompt)
        return 0.5, {p: self.success[p] for p in profiles if p in self.success}


N_MODEL_CONFIG = {
    **CONFIG,
    "auto": {
        "policies": [
            {"name": "target", "candidates": ["tiny", "mini", "flagship"], "quality_target": 0.9},
            {"name": "pinned", "candidates": ["tiny", "flagship"], "quality_target": 0.9,
             "profiles": {"tiny": "gpt-4o-mini"}},
        ]
    },
}  # fmt: skip


def make_n_model(success: dict[str, float]):
    from unigate.routing.auto.runtime import prepare

    gateway = Gateway(validate(N_MODEL_CONFIG), environ={})
    scorer = ProfileScorer(success)
    router, _ = build_router(gateway.groups, Scorers(loader=lambda name: scorer))
    prepare(router, gateway.catalog)
    return router


def test_n_model_choice_takes_the_cheapest_candidate_meeting_the_quality_target() -> None:
    router = make_n_model({"gpt-4o": 0.9, "gpt-4o-mini": 0.85, "llama-3.1-8b": 0.3})
    policy = router.policy("auto/target")
    # mini and flagship by name; the local llama3.2:1b has no profile of its own → nearest by catalog quality
    assert policy.profiles["mini"] == "gpt-4o-mini" and policy.profiles["flagship"] == "gpt-4o"
    assert policy.profiles["tiny"] == "llama-3.1-8b"
    ctx = ctx_for("auto/target")
    request = chat("What is 17 * 23?")
    router.decide(ctx, request)
    assert request["model"] == "mini"  # 0.85 ≥ 0.9 × 0.9; tiny's 0.3 is not
    headers = ctx.extras["response_headers"]
    assert headers["x-unigate-auto-success"] == "tiny=0.300;mini=0.850;flagship=0.900"
    assert headers["x-unigate-auto-target"] == "0.9"
    assert ctx.extras["auto"]["rejected"]["tiny"] == "below_target"
    assert ctx.extras["auto"]["success"] == {"tiny": 0.3, "mini": 0.85, "flagship": 0.9}


def test_n_model_choice_goes_up_when_only_the_flagship_is_predicted_to_succeed() -> None:
    router = make_n_model({"gpt-4o": 0.8, "gpt-4o-mini": 0.4, "llama-3.1-8b": 0.1})
    request = chat("Prove the Riemann hypothesis.")
    ctx = ctx_for("auto/target")
    router.decide(ctx, request)
    assert request["model"] == "flagship"
    assert ctx.extras["auto"]["rejected"] == {"tiny": "below_target", "mini": "below_target"}


def test_config_profiles_pin_a_candidate_to_a_profile() -> None:
    router = make_n_model({"gpt-4o": 0.9, "gpt-4o-mini": 0.85, "llama-3.1-8b": 0.3})
    assert router.policy("auto/pinned").profiles["tiny"] == "gpt-4o-mini"
    request = chat("hello")
    router.decide(ctx_for("auto/pinned"), request)
    assert request["model"] == "tiny"


async def test_routers_load_on_the_first_auto_request_once_not_when_built() -> None:
    import asyncio

    gateway = Gateway(validate(N_MODEL_CONFIG), environ={})
    loads: list[str] = []

    def loader(name: str) -> ProfileScorer:
        loads.append(name)
        return ProfileScorer({"gpt-4o": 0.9, "gpt-4o-mini": 0.85, "llama-3.1-8b": 0.3})

    router, _ = build_router(gateway.groups, Scorers(loader=loader))
    assert loads == []  # an idle gateway holds no router (numpy, artifacts)
    requests = [chat("What is 17 * 23?") for _ in range(5)]
    await asyncio.gather(*(router.select(ctx_for("auto/target"), request) for request in requests))
    assert len(loads) == 1  # once, for concurrent first requests
    assert {request["model"] for request in requests} == {"mini"}  # profiles resolved before choosing
