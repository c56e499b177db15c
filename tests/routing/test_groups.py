"""Model groups: client-chosen ``provider/<model>`` names cannot grow the gateway's memory (past
the names it remembers, everything kept per deployment — routing statistics, price and
capability caches, auto-routing latency, metrics — shares one identity per provider); and
zero-config discovery brings a provider's chat, embedding and media models (audio, images,
moderation, rerank), each described with its endpoints and modalities, media models never being
auto-routing candidates."""

from __future__ import annotations

import pytest

from tests.support.fake_upstream import FakeUpstream
from unigate.catalog import Catalog
from unigate.config import GatewayConfig, validate
from unigate.gateway import Gateway
from unigate.observability.hook import ObservabilityHook
from unigate.routing import groups as groups_module
from unigate.routing.auto.candidates import chat_model_names


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
    series_rows = hook.series.by_deployment("1h")  # one row per (model, deployment, provider) label
    assert 20 <= len(series_rows) <= 22  # bounded labels: 20 names of their own, then "other"


MEDIA = {"whisper-1", "tts-1", "dall-e-3", "gpt-image-1", "omni-moderation-latest", "whisper-large-v3", "rerank-v3.5"}


def test_discovery_offers_media_models_too():
    config = GatewayConfig.model_validate({"local_model": {"enabled": False}})
    gateway = Gateway(config, environ={"OPENAI_API_KEY": "sk-a", "GROQ_API_KEY": "gsk-b", "COHERE_API_KEY": "c"})
    names = set(gateway.model_names())
    assert {"gpt-4o-mini", "text-embedding-3-small"} <= names
    assert {"whisper-1", "tts-1", "dall-e-3", "gpt-image-1", "omni-moderation-latest"} <= names
    assert {"groq/whisper-large-v3", "whisper-large-v3", "cohere/rerank-v3.5"} <= names

    whisper = gateway.describe_model("whisper-1")
    assert set(whisper["endpoints"]) == {"transcription", "translation"}
    assert whisper["modalities"] == {"input": ["audio"], "output": ["text"]}
    assert gateway.describe_model("dall-e-3")["modalities"]["output"] == ["image"]
    assert set(gateway.describe_model("tts-1")["endpoints"]) == {"speech"}

    candidates = set(chat_model_names(gateway.groups))
    assert "openai/gpt-4o-mini" in candidates  # (its bare alias is the same upstream model)
    assert not {n for n in candidates if n.split("/")[-1] in MEDIA}
    assert "openai/text-embedding-3-small" not in candidates


def test_no_key_no_models():
    config = GatewayConfig.model_validate({"local_model": {"enabled": False}})
    assert Gateway(config, environ={}).model_names() == []
