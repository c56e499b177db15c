"""Prices belong to the public model: config overrides never leak between models that share an
upstream id, and the worst price of a deployment covers every kind of token it can bill."""

from __future__ import annotations

import pytest

from unigate.catalog import Catalog, Price
from unigate.config import GatewayConfig
from unigate.gateway import Gateway


def _priced(name: str, output: float) -> dict:
    return {
        "name": name,
        "deployments": [{"provider": "openai", "model": "shared-upstream-id", "api_key": "k"}],
        "pricing": {"input_per_mtok": 1.0, "output_per_mtok": output},
    }


def test_two_public_models_on_one_upstream_id_keep_their_own_prices():
    config = GatewayConfig.model_validate(
        {"models": [_priced("team-a", 10.0), _priced("team-b", 99.0)], "local_model": {"enabled": False}}
    )
    gateway = Gateway(config, environ={})
    usage = {"prompt_tokens": 0, "completion_tokens": 1_000_000}
    costs = {}
    for name in ("team-a", "team-b"):
        deployment = gateway.groups[name].deployments[0]
        costs[name] = gateway.catalog.cost(deployment.provider, deployment.model, usage, deployment.public_name)
        assert gateway.describe_model(name)["pricing"]["output_per_mtok"] == costs[name]
    assert costs == {"team-a": 10.0, "team-b": 99.0}
    # the upstream id itself has no price of its own
    assert gateway.catalog.price("openai", "shared-upstream-id") is None


def test_worst_price_covers_cache_writes_and_tiers():
    catalog = Catalog()
    catalog.set_price_override("mine", Price(1.0, 2.0, 0.1, 1.25, 2.5))

    class Deployment:
        provider, model, public_name = "openai", "x", "mine"

    assert catalog.worst_price(Deployment()) == Price(2.5, 2.0)
    Deployment.public_name = "other"
    assert catalog.worst_price(Deployment()) is None  # unknown upstream id: no price, never zero
    Deployment.provider, Deployment.model = "gemini", "gemini-2.5-pro"
    worst = catalog.worst_price(Deployment())
    assert worst is not None and worst.input == pytest.approx(2.5) and worst.output == pytest.approx(15.0)
    Deployment.provider = "local"
    assert catalog.worst_price(Deployment()) == Price(0.0, 0.0)


def test_batch_prices_are_the_catalogs_batch_prices_or_half():
    catalog = Catalog()
    usage = {"prompt_tokens": 1_000_000, "completion_tokens": 1_000_000, "total_tokens": 2_000_000}
    for provider, model in (("openai", "gpt-4o-mini"), ("anthropic", "claude-haiku-4-5")):
        standard = catalog.cost(provider, model, usage)
        assert standard and catalog.batch_cost(provider, model, usage) == pytest.approx(standard / 2)
    catalog.set_price_override("mine", Price(2.0, 8.0))
    assert catalog.batch_cost("openai", "anything", usage, "mine") == pytest.approx(5.0)
    assert catalog.batch_cost("local", "smollm2-135m", usage) == 0.0
    assert catalog.batch_cost("openai", "gpt-4o-mini", None) is None
    assert catalog.batch_cost("openai", "no-such-model-xyz", usage) is None
