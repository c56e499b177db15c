"""The catalog: what a (provider, upstream model) can do and what it costs.

Prices belong to the public model when the config sets one (``models[].pricing``): two public
models served by the same upstream id keep their own prices. Otherwise the (provider, upstream
model) price comes from genai-prices; ``pricing.py`` does the arithmetic.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace
from decimal import Decimal
from functools import cache
from importlib import resources
from typing import Any

import yaml

from unigate.catalog.media import MediaInfo, MediaPrice, default_media_models, media_cost, media_info
from unigate.catalog.pricing import Price, catalog_cost, flat_cost, tokens_of, worst_catalog_price, worst_flat_price
from unigate.types import Usage

# unigate provider id → genai-prices provider id (where they differ)
_PRICE_PROVIDER = {
    "gemini": "google",
    "bedrock": "aws",
    "xai": "x-ai",
    "moonshot": "moonshotai",
    "huggingface": "huggingface_together",
}
FREE_PROVIDERS = frozenset({"local", "ollama", "vllm", "lmstudio", "llamacpp"})
BATCH_DISCOUNT = 0.5  # a provider Batch API's price when the catalog has no batch price


@dataclass(frozen=True, slots=True)
class ModelInfo:
    provider: str
    model: str
    context_window: int | None = None
    max_output_tokens: int | None = None
    tools: bool = False
    vision: bool = False
    json_schema: bool = False
    reasoning: bool = False
    embedding: bool = False
    quality: float | None = None
    price: Price | None = None
    default: bool = False

    def capabilities(self) -> dict[str, bool]:
        return {
            "tools": self.tools,
            "vision": self.vision,
            "json_schema": self.json_schema,
            "reasoning": self.reasoning,
        }


# Prices looked up per (provider, model): dynamic provider/<model> names are client-chosen, so
# the caches start over past this many entries rather than grow without bound.
CACHE_LIMIT = 10_000
_UNSET: Any = object()


@cache
def _table() -> dict[str, dict[str, dict[str, Any]]]:
    text = resources.files("unigate.catalog").joinpath("models.yaml").read_text()
    return yaml.safe_load(text)


def _info_from_row(provider: str, model: str, row: dict[str, Any]) -> ModelInfo:
    caps = str(row.get("caps") or "")
    return ModelInfo(
        provider=provider,
        model=model,
        context_window=row.get("ctx"),
        max_output_tokens=row.get("out"),
        tools="t" in caps,
        vision="v" in caps,
        json_schema="j" in caps,
        reasoning="r" in caps,
        embedding=bool(row.get("embedding")),
        quality=row.get("quality"),
        default=bool(row.get("default")),
    )


class Catalog:
    """Looks models up; prices are resolved once per (provider, model) and cached."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._model_prices: dict[tuple[str, str], Any] = {}
        self._overrides: dict[str, Price] = {}  # public model name → config price
        self._flat: dict[tuple[str, str], Price | None] = {}
        self._media_overrides: dict[str, MediaPrice] = {}  # public model name → config media prices
        self._endpoint_overrides: dict[str, frozenset[str]] = {}  # public model name → endpoints

    # -- capabilities ----------------------------------------------------------------------

    def default_models(self, provider: str) -> list[str]:
        """The models offered zero-config for a provider found in the environment: its chat and
        embedding models (models.yaml), then its audio, image, moderation and rerank models
        (media.yaml)."""
        chat = [name for name, row in (_table().get(provider) or {}).items() if row.get("default")]
        media = [name for name in default_media_models(provider) if name not in chat]
        return chat + media

    def known_models(self) -> list[tuple[str, str]]:
        return [(p, m) for p, rows in _table().items() for m in rows]

    def info(self, provider: str, model: str, public_name: str | None = None) -> ModelInfo:
        row = (_table().get(provider) or {}).get(model)
        info = _info_from_row(provider, model, row) if row else ModelInfo(provider=provider, model=model)
        if info.context_window is None:
            info = replace(info, context_window=self._price_context_window(provider, model))
        return replace(info, price=self.price(provider, model, public_name))

    def endpoints(self, provider: str, model: str, public_name: str | None = None) -> frozenset[str] | None:
        """The endpoints a model serves, or None when the catalog does not know the model."""
        override = self._endpoint_overrides.get(public_name) if public_name is not None else None
        if override is not None:
            return override
        media = media_info(provider, model)
        row = (_table().get(provider) or {}).get(model)
        if media is None and row is None:
            return None
        served: set[str] = set(media.endpoints) if media is not None else set()
        if row is not None:
            served.add("embeddings" if row.get("embedding") else "chat")
        return frozenset(served)

    def media(self, provider: str, model: str) -> MediaInfo | None:
        return media_info(provider, model)

    def set_endpoints_override(self, public_name: str, endpoints: frozenset[str]) -> None:
        self._endpoint_overrides[public_name] = endpoints

    # -- prices ----------------------------------------------------------------------------

    def set_media_price_override(self, public_name: str, price: MediaPrice) -> None:
        """The media prices of one public model (every deployment of it), from config."""
        self._media_overrides[public_name] = price

    def media_price(self, provider: str, model: str, public_name: str | None = None) -> MediaPrice | None:
        override = self._media_overrides.get(public_name) if public_name is not None else None
        if override is not None:
            return override
        if provider in FREE_PROVIDERS:
            return MediaPrice(0.0, 0.0, (("*", 0.0),), 0.0)
        info = media_info(provider, model)
        return info.price if info is not None else None

    def request_cost(
        self, provider: str, model: str, usage: Usage | None, public_name: str | None = None
    ) -> float | None:
        """USD for any request's usage: media units (seconds, characters, images, searches) at
        media prices, everything else (chat audio tokens included) at token prices."""
        if not usage:
            return None
        if any(k in usage for k in ("audio_seconds", "characters", "images", "search_units")):
            price = self.media_price(provider, model, public_name)
            if price is None:
                return None
            cost = media_cost(price, usage)
            if cost is None or not (usage.get("prompt_tokens") or usage.get("completion_tokens")):
                return cost
            if usage.get("audio_seconds") is not None or usage.get("images") is not None:
                return cost  # the per-unit price covers the tokens the upstream also reports
            tokens = self.cost(provider, model, usage, public_name)
            return None if tokens is None else round(cost + tokens, 10)
        return self.cost(provider, model, usage, public_name)

    def set_price_override(self, public_name: str, price: Price) -> None:
        """The price of one public model (every deployment of it), from config."""
        self._overrides[public_name] = price

    def override(self, public_name: str | None) -> Price | None:
        return self._overrides.get(public_name) if public_name is not None else None

    def price(self, provider: str, model: str, public_name: str | None = None) -> Price | None:
        override = self.override(public_name)
        if override is not None:
            return override
        if provider in FREE_PROVIDERS:
            return Price(0.0, 0.0, 0.0)
        model_price = self._model_price(provider, model)
        if model_price is None:
            return None
        return Price(
            input=_flat(model_price.input_mtok),
            output=_flat(model_price.output_mtok),
            cached_input=_flat(model_price.cache_read_mtok) if model_price.cache_read_mtok is not None else None,
        )

    def worst_price(self, deployment: Any) -> Price | None:
        """The most one input / one output token can cost on ``deployment`` (cache writes,
        audio, long-context tiers included); None when the price is unknown."""
        override = self.override(deployment.public_name)
        if override is not None:
            return worst_flat_price(override)
        if deployment.provider in FREE_PROVIDERS:
            return Price(0.0, 0.0)
        model_price = self._model_price(deployment.provider, deployment.model)
        return None if model_price is None else worst_catalog_price(model_price)

    def cost(self, provider: str, model: str, usage: Usage | None, public_name: str | None = None) -> float | None:
        """USD for one request's usage: cache reads and writes (5-minute and 1-hour), audio,
        reasoning and long-context tiers priced as the provider does."""
        if not usage:
            return None
        tokens = tokens_of(usage)
        override = self.override(public_name)
        if override is not None:
            return flat_cost(override, tokens)
        if provider in FREE_PROVIDERS:
            return 0.0
        model_price = self._model_price(provider, model)
        if model_price is None:
            return None
        flat = None if tokens.input_audio or tokens.output_audio else self._flat_prices(provider, model, model_price)
        if flat is not None:
            # Flat per-token prices: the library's numbers, without its per-call unit registry walk
            # (~70 µs), which matters on the hot path.
            return flat_cost(flat, tokens)
        return catalog_cost(model_price, tokens)

    def batch_cost(
        self, provider: str, model: str, usage: Usage | None, public_name: str | None = None
    ) -> float | None:
        """USD for one line of a batch the provider ran in its own Batch API: the catalog's batch
        prices where it has them, else half the standard price (OpenAI's and Anthropic's batch
        discount, which also applies to a price set in the config)."""
        if not usage:
            return None
        if self.override(public_name) is None and provider not in FREE_PROVIDERS:
            batch_price = _batch_price(provider, model)
            if batch_price is not None:
                return catalog_cost(batch_price, tokens_of(usage))
        standard = self.cost(provider, model, usage, public_name)
        return None if standard is None else round(standard * BATCH_DISCOUNT, 12)

    def _model_price(self, provider: str, model: str) -> Any:
        key = (provider, model)
        if key in self._model_prices:
            return self._model_prices[key]
        with self._lock:
            if key not in self._model_prices:
                if len(self._model_prices) >= CACHE_LIMIT:  # client-chosen names: bounded memory
                    self._model_prices.clear()
                self._model_prices[key] = price = _lookup_price(provider, model)
                return price
        return self._model_prices[key]

    def _flat_prices(self, provider: str, model: str, model_price: Any) -> Price | None:
        key = (provider, model)
        flat = self._flat.get(key, _UNSET)
        if flat is _UNSET:
            if len(self._flat) >= CACHE_LIMIT:
                self._flat.clear()
            flat = self._flat[key] = _flat_price_of(model_price)
        return flat

    def _price_context_window(self, provider: str, model: str) -> int | None:
        found = _lookup_model(provider, model)
        return getattr(found, "context_window", None) if found is not None else None


def _flat(value: Any) -> float:
    """A flat per-MTok price; tiered prices report their base tier."""
    if value is None:
        return 0.0
    if isinstance(value, Decimal | int | float):
        return float(value)
    base = getattr(value, "base", None)
    return float(base) if base is not None else 0.0


_FLAT_FIELDS = ("input_mtok", "output_mtok", "cache_read_mtok", "cache_write_mtok", "cache_write_1h_mtok")


def _flat_price_of(model_price: Any) -> Price | None:
    """The model's prices if they are plain per-token numbers for input/output/cache reads and
    writes only (no tiers, no audio)."""
    for name, value in vars(model_price).items():
        if value is None or not name.endswith("_mtok"):
            continue  # per-search/per-request units don't apply to chat token usage
        if name not in _FLAT_FIELDS or not isinstance(value, Decimal | int | float):
            return None
    cached = model_price.cache_read_mtok
    write = getattr(model_price, "cache_write_mtok", None)
    write_1h = getattr(model_price, "cache_write_1h_mtok", None)
    return Price(
        input=float(model_price.input_mtok or 0),
        output=float(model_price.output_mtok or 0),
        cached_input=float(cached) if cached is not None else None,
        cache_write=float(write) if write is not None else None,
        cache_write_1h=float(write_1h) if write_1h is not None else None,
    )


@cache
def _lookup_model(provider: str, model: str) -> Any:
    from genai_prices import data_snapshot

    snapshot = data_snapshot.get_snapshot()
    price_provider = _PRICE_PROVIDER.get(provider, provider)
    # Bedrock inference-profile ids ("us.anthropic.claude-…") and router-style ids
    # ("openai/gpt-4o-mini") are priced by their underlying model.
    candidates = [model]
    if "/" in model:
        candidates.append(model.split("/", 1)[1])
    if provider == "bedrock" and model[:3] in ("us.", "eu.", "ap."):
        candidates.append(model[3:])
    for ref in candidates:
        for pid in (price_provider, None):
            try:
                _provider, info = snapshot.find_provider_model(ref, None, pid, None)
            except LookupError:
                continue
            except Exception:
                continue
            if info is not None:
                return info
    return None


def _lookup_price(provider: str, model: str) -> Any:
    info = _lookup_model(provider, model)
    if info is None:
        return None
    prices = info.prices
    if isinstance(prices, list):  # conditional prices over time: the last applies now
        prices = prices[-1].prices
    return prices


@cache
def _batch_price(provider: str, model: str) -> Any:
    """The model's price in its provider's Batch API, where genai-prices has one."""
    from datetime import UTC, datetime

    info = _lookup_model(provider, model)
    variants = getattr(info, "price_variants", None) if info is not None else None
    if not variants or not any(v.when == {"processing": "batch"} for v in variants):
        return None
    return info.get_prices(datetime.now(tz=UTC), {"processing": "batch"})
