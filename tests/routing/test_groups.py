"""Client-chosen ``provider/<model>`` names cannot grow the gateway's memory: past the names it
remembers, everything kept per deployment (routing statistics, price and capability caches,
auto-routing latency, metrics) shares one identity per provider."""

from __future__ import annotations

import pytest

from tests.support.fake_upstream import FakeUpstream
from unigate.catalog import Catalog
from unigate.config import validate
from unigate.gateway import Gateway
from unigate.observability.hook import ObservabilityHook
from unigate.routing import groups as groups_module


@pytest.fixture
async def upstream():
    server = await FakeUpstream().start()
    yield server
    await server.stop()


async def test_many_dynamic_names_keep_per_deployment_state_bounded(upstream, monkeypatch):
    monkeypatch.setattr(groups_module, "MAX_DYNAMIC_GROUPS", 20)
    config = validate(
        {
            "local_model": {"enabled": False},
            "discover_providers": False,
            "providers": {"openai": {"api_base": upstream.base_url, "api_key": "sk-up"}},
        }
    )
    groups = groups_module.ModelGroups.from_config(config, Catalog(), environ={})
    hook = ObservabilityHook(groups)
    gateway = Gateway(config, groups=groups, hooks=[hook])
    async with gateway:
        for i in range(300):
            request = {"model": f"openai/invented-{i}", "messages": [{"role": "user", "content": "x"}]}
            result = await gateway.chat(request)
            assert result.response["choices"][0]["message"]["content"]
            # the request still reaches the model it names
            assert upstream.received[-1].body["model"] == f"invented-{i}"
        router = gateway.router
        assert router is not None
        assert len(router.groups) <= 20
        assert len(router._prices) <= 21 and len(router.stats.snapshot()) <= 21
        deployments = {lab for lab in router.stats.snapshot()}
        assert "openai/*" in deployments
    series_keys = {key for _, series in hook.series._buckets for key in series}
    assert len(series_keys) <= 22  # bounded labels: 20 names of their own, then "other"
