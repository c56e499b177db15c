"""The worst-case reservation policy sees every deployment a request can reach.

Unit tests drive the policy over a real Gateway's groups and the real catalog; the attacks at
the end run against a gateway process (each one was an overspend before the policy existed).
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.accounts.conftest import MASTER, Admin
from tests.support.fake_upstream import Mode
from unigate.accounts.models import reservation_nano
from unigate.accounts.reservation import ReservationPolicy
from unigate.config import AccountsConfig, GatewayConfig
from unigate.gateway import Gateway
from unigate.routing.groups import MAX_DYNAMIC_GROUPS

UPSTREAM = "http://127.0.0.1:9/v1"


def model(name: str, input_price: float, output_price: float, upstream: str | None = None, **routing: Any) -> dict:
    entry: dict[str, Any] = {
        "name": name,
        "deployments": [{"provider": "openai", "model": upstream or name, "api_base": UPSTREAM, "api_key": "k"}],
        "pricing": {"input_per_mtok": input_price, "output_per_mtok": output_price},
    }
    if routing:
        entry["routing"] = routing
    return entry


def policy_for(*models: dict, **config: Any) -> ReservationPolicy:
    gateway = Gateway(
        GatewayConfig.model_validate({"models": list(models), "local_model": {"enabled": False}, **config}),
        environ={},
    )
    return ReservationPolicy(gateway.find_group, gateway.catalog, AccountsConfig())


def ask(**extra: Any) -> dict[str, Any]:
    return {"model": "cheap", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 10, **extra}


def test_request_fallbacks_widen_the_worst_case():
    policy = policy_for(model("cheap", 1, 1), model("dear", 100, 1000), model("mid", 10, 10))
    alone = policy.reserve(ask(), "cheap", "chat")
    for extra in (
        {"models": ["cheap", "dear"]},
        {"route": {"fallbacks": ["dear"]}},
        {"route": {"context_window_fallbacks": ["dear"]}},
        {"route": {"content_filter_fallbacks": ["mid", "dear"]}},
    ):
        widened = policy.reserve(ask(**extra), "cheap", "chat")
        assert widened.exposure.output == 1000 and widened.exposure.input == 100, extra
        assert widened.nusd == reservation_nano(widened.prompt_tokens, 10, 100, 1000) > alone.nusd


def test_configured_chains_are_followed_transitively():
    policy = policy_for(
        model("cheap", 1, 1, fallbacks=["mid"]),
        model("mid", 10, 10, context_window_fallbacks=["dear"]),
        model("dear", 100, 1000),
    )
    assert policy.exposure("cheap", ask()).output == 1000


def test_n_choices_reserve_n_outputs_and_one_prompt():
    policy = policy_for(model("cheap", 0, 1000))
    one = policy.reserve(ask(), "cheap", "chat")
    fifty = policy.reserve(ask(n=50), "cheap", "chat")
    assert fifty.output_tokens == 50 * one.output_tokens == 500
    assert fifty.nusd == 50 * one.nusd


def test_missing_max_tokens_reserves_the_catalog_bound():
    # gpt-4o-mini: the catalog knows its largest output (16,384 tokens)
    policy = policy_for(model("cheap", 1, 1, upstream="gpt-4o-mini"))
    request = ask()
    del request["max_tokens"]
    reservation = policy.reserve(request, "cheap", "chat")
    assert reservation.output_tokens == 16_384 and "max_tokens" not in request
    # a request's own bound is used, capped by what the model can produce
    assert policy.reserve(ask(max_tokens=10**9), "cheap", "chat").output_tokens == 16_384
    assert policy.reserve(ask(max_completion_tokens=7, max_tokens=None), "cheap", "chat").output_tokens == 7


def test_unbounded_output_is_bounded_by_the_reservation_itself():
    policy = policy_for(model("cheap", 1, 1, upstream="my-own-finetune"))
    request = ask()
    del request["max_tokens"]
    reservation = policy.reserve(request, "cheap", "chat")
    assert reservation.output_tokens == AccountsConfig().default_max_output_tokens == request["max_tokens"]


def test_unpriced_is_never_free():
    policy = policy_for(
        model("cheap", 1, 1), {"name": "mystery", "deployments": [{"provider": "openai", "model": "x"}]}
    )
    assert policy.reserve(ask(), "nowhere", "chat").exposure.unpriced == "nowhere"
    # an unpriced fallback makes the whole request unpriced
    assert policy.reserve(ask(models=["mystery"]), "cheap", "chat").exposure.unpriced == "mystery"


def test_cache_writes_and_long_context_tiers_set_the_worst_input_price():
    policy = policy_for(
        {"name": "sonnet", "deployments": [{"provider": "anthropic", "model": "claude-sonnet-4-5", "api_key": "k"}]}
    )
    exposure = policy.exposure("sonnet", ask())
    # plain input is $3/M; a 1-hour cache write above the 200k tier costs $12/M
    assert exposure.input == pytest.approx(12.0) and exposure.output == pytest.approx(22.5)


def test_dynamic_names_are_priced_however_many_the_gateway_remembers():
    gateway = Gateway(
        GatewayConfig.model_validate(
            {"providers": {"openai": {"api_base": UPSTREAM, "api_key": "k"}}, "local_model": {"enabled": False}}
        ),
        environ={},
    )
    policy = ReservationPolicy(gateway.find_group, gateway.catalog, AccountsConfig())
    gateway.groups._dynamic_names = MAX_DYNAMIC_GROUPS  # the cap is full: new names are no longer remembered
    assert policy.exposure("openai/gpt-4o-mini", ask()).output == pytest.approx(0.6)
    assert policy.exposure("openai/not-a-priced-model", ask()).unpriced == "openai/not-a-priced-model"
    assert not any("/" in name for name in policy._closures)  # client-chosen names are not cached


# -- attacks on a running gateway --------------------------------------------------------------


@pytest.fixture
def gateway(start_gateway, make_upstream):
    upstream = make_upstream(Mode(prompt_tokens=1, completion_tokens=5))
    config = {
        "server": {"master_key": MASTER},
        "providers": {"openai": {"api_base": upstream.base_url, "api_key": "sk-up"}},
        "models": [
            {
                "name": "cheap",
                "deployments": [{"provider": "openai", "model": "cheap", "api_base": upstream.base_url}],
                "pricing": {"input_per_mtok": 0, "output_per_mtok": 2000},  # $0.01 per 5 tokens
            },
            {
                "name": "dear",
                "deployments": [{"provider": "openai", "model": "dear", "api_base": upstream.base_url}],
                "pricing": {"input_per_mtok": 0, "output_per_mtok": 20000},
            },
        ],
    }
    process = start_gateway(config)
    process.upstream = upstream
    return process


def _chat(client: httpx.Client, key: str, **body: Any) -> httpx.Response:
    payload = {"model": "cheap", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5, **body}
    return client.post("/v1/chat/completions", headers={"authorization": f"Bearer {key}"}, json=payload)


def test_attacks_that_used_to_overspend_are_refused(gateway):
    admin = Admin(gateway.url)
    key = admin.create_key(credit=0.02)["key"]  # two cheap requests
    with httpx.Client(base_url=gateway.url, timeout=30) as client:
        for attack in ({"n": 3}, {"models": ["dear"]}, {"route": {"fallbacks": ["dear"]}}, {"max_tokens": None}):
            reply = _chat(client, key, **attack)
            assert reply.status_code == 402, (attack, reply.text)
            assert reply.json()["error"]["code"] == "insufficient_credit"
        assert _chat(client, key).status_code == 200  # what fits is still admitted
        assert _chat(client, key, n=1).status_code == 200
        assert _chat(client, key).status_code == 402


def test_dynamic_names_past_the_remembered_bound_are_not_free(gateway):
    admin = Admin(gateway.url)
    key = admin.create_key(credit=0.001)["key"]
    with httpx.Client(base_url=gateway.url, timeout=30) as client:
        # fill the gateway's memory of dynamic names (the attacker's own refused requests)
        for i in range(MAX_DYNAMIC_GROUPS + 5):
            reply = _chat(client, key, model=f"openai/unpriced-{i}")
            assert reply.status_code == 403, reply.text
            assert reply.json()["error"]["code"] == "model_not_priced"
    info = admin.get("/admin/keys/" + admin.get("/admin/keys")["data"][0]["id"])
    assert info["balance"]["credit"]["spent"] == 0
    assert not gateway.upstream.chat_calls()
