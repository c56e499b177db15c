"""Media prices and endpoints from the catalog, and how a media request is reserved."""

from __future__ import annotations

import pytest

from unigate.accounts.reservation import media_units
from unigate.catalog import Catalog
from unigate.catalog.media import MediaPrice, image_price, media_cost, modalities


def test_endpoints_known_unknown_and_overridden() -> None:
    catalog = Catalog()
    assert catalog.endpoints("openai", "whisper-1") == {"transcription", "translation"}
    assert catalog.endpoints("openai", "gpt-4o") == {"chat"}
    assert catalog.endpoints("openai", "text-embedding-3-small") == {"embeddings"}
    assert catalog.endpoints("vllm", "my-own-model") is None  # unknown: the upstream decides
    catalog.set_endpoints_override("mine", frozenset({"rerank"}))
    assert catalog.endpoints("vllm", "my-own-model", "mine") == {"rerank"}


def test_image_price_lookup_order() -> None:
    price = MediaPrice(per_image=(("hd/1024x1024", 0.08), ("hd/*", 0.12), ("1024x1024", 0.04), ("*", 0.5)))
    assert image_price(price, "1024x1024", "hd") == 0.08
    assert image_price(price, "1792x1024", "hd") == 0.12
    assert image_price(price, "1024x1024", "standard") == 0.04
    assert image_price(price, "256x256", "standard") == 0.5


def test_media_cost_per_unit_and_unpriced() -> None:
    price = MediaPrice(per_minute=0.006, per_mchar=15.0, per_search=0.002)
    assert media_cost(price, {"audio_seconds": 30}) == pytest.approx(0.003)
    assert media_cost(price, {"characters": 1000}) == pytest.approx(0.015)
    assert media_cost(price, {"search_units": 3}) == pytest.approx(0.006)
    assert media_cost(price, {"images": 1}) is None  # no per-image price: unpriced, never free
    assert media_cost(price, {"prompt_tokens": 5}) is None


def test_request_cost_prefers_media_units() -> None:
    catalog = Catalog()
    assert catalog.request_cost("openai", "whisper-1", {"audio_seconds": 60.0}) == pytest.approx(0.006)
    assert catalog.request_cost("local", "anything", {"audio_seconds": 60.0}) == 0.0
    assert catalog.request_cost(
        "openai", "dall-e-3", {"images": 2, "image_size": "1024x1024", "image_quality": "hd"}
    ) == pytest.approx(0.16)


def test_modalities() -> None:
    assert modalities(frozenset({"chat"}), True, True, False) == {
        "input": ["text", "image", "audio"],
        "output": ["text"],
    }
    assert modalities(frozenset({"speech"}), False, False, False) == {"input": ["text"], "output": ["audio"]}


def test_media_units_are_upper_bounds() -> None:
    assert media_units({"_duration": 12.5}, "transcription") == {"audio_seconds": 12.5}
    assert media_units({"input": "hello"}, "speech") == {"characters": 5}
    assert media_units({"n": 3, "size": "512x512"}, "image_generation")["images"] == 3
    assert media_units({"documents": ["a"] * 150}, "rerank") == {"search_units": 2}
