"""Zero-config discovery: a provider key in the environment brings the provider's chat,
embedding and media models (audio, images, moderation, rerank), each described with its
endpoints and modalities; media models are never auto-routing candidates."""

from __future__ import annotations

from unigate.config import GatewayConfig
from unigate.gateway import Gateway
from unigate.routing.auto.candidates import chat_model_names

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
