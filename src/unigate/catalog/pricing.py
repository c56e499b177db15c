"""Cost arithmetic: canonical usage × prices → USD.

The canonical usage (OpenAI's shape, with the gateway's extensions) names every kind of token
a provider bills differently:

- ``prompt_tokens``: all input tokens, cached and cache-written included (as genai-prices counts);
- ``prompt_tokens_details.cached_tokens``: cache reads;
- ``prompt_tokens_details.cache_creation_tokens``: cache writes (all of them), of which
  ``prompt_tokens_details.cache_creation_1h_tokens`` were written with a 1-hour lifetime;
- ``prompt_tokens_details.audio_tokens`` / ``completion_tokens_details.audio_tokens``: audio;
- ``completion_tokens`` (reasoning included) and ``completion_tokens_details.reasoning_tokens``.

Catalog prices come from genai-prices, whose ``calc_price`` handles every one of these and the
long-context tiers (a tier's price applies to all tokens once the prompt crosses its start).
Prices set in config (``models[].pricing``) are flat; a cache write without its own override
price costs the input price.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from unigate.types import Usage


@dataclass(frozen=True, slots=True)
class Price:
    """USD per 1M tokens."""

    input: float
    output: float
    cached_input: float | None = None
    cache_write: float | None = None  # 5-minute (default) cache writes
    cache_write_1h: float | None = None


@dataclass(frozen=True, slots=True)
class Tokens:
    """One request's tokens by billing kind (see the module docstring)."""

    prompt: int = 0
    cache_read: int = 0
    cache_write: int = 0
    cache_write_1h: int = 0
    input_audio: int = 0
    completion: int = 0
    reasoning: int = 0
    output_audio: int = 0


def _int(value: Any) -> int:
    try:
        return max(0, int(value or 0))
    except (TypeError, ValueError):
        return 0


def tokens_of(usage: Usage | dict[str, Any]) -> Tokens:
    prompt_details = usage.get("prompt_tokens_details") or {}
    completion_details = usage.get("completion_tokens_details") or {}
    if not isinstance(prompt_details, dict):
        prompt_details = {}
    if not isinstance(completion_details, dict):
        completion_details = {}
    prompt = _int(usage.get("prompt_tokens"))
    completion = _int(usage.get("completion_tokens"))
    cache_read = min(prompt, _int(prompt_details.get("cached_tokens")))
    cache_write = min(prompt - cache_read, _int(prompt_details.get("cache_creation_tokens")))
    return Tokens(
        prompt=prompt,
        cache_read=cache_read,
        cache_write=cache_write,
        cache_write_1h=min(cache_write, _int(prompt_details.get("cache_creation_1h_tokens"))),
        input_audio=min(prompt, _int(prompt_details.get("audio_tokens"))),
        completion=completion,
        reasoning=min(completion, _int(completion_details.get("reasoning_tokens"))),
        output_audio=min(completion, _int(completion_details.get("audio_tokens"))),
    )


def flat_cost(price: Price, tokens: Tokens) -> float:
    """USD for a flat price (a config override, or a catalog price with no tiers)."""
    cached = price.cached_input if price.cached_input is not None else price.input
    write_5m = price.cache_write if price.cache_write is not None else price.input
    write_1h = price.cache_write_1h if price.cache_write_1h is not None else write_5m
    fresh = tokens.prompt - tokens.cache_read - tokens.cache_write
    total = (
        fresh * price.input
        + tokens.cache_read * cached
        + (tokens.cache_write - tokens.cache_write_1h) * write_5m
        + tokens.cache_write_1h * write_1h
        + tokens.completion * price.output
    )
    return round(total / 1e6, 12)


def catalog_cost(model_price: Any, tokens: Tokens) -> float:
    """USD for a genai-prices ``ModelPrice`` (tiers, cache writes, audio, reasoning)."""
    from genai_prices import Usage as PriceUsage

    values: dict[str, int] = {"input_tokens": tokens.prompt, "output_tokens": tokens.completion}
    if tokens.cache_read:
        values["cache_read_tokens"] = tokens.cache_read
    if tokens.cache_write:
        values["cache_write_tokens"] = tokens.cache_write
        if tokens.cache_write_1h:
            values["cache_write_1h_tokens"] = tokens.cache_write_1h
    if tokens.input_audio:
        values["input_audio_tokens"] = tokens.input_audio
    if tokens.output_audio:
        values["output_audio_tokens"] = tokens.output_audio
    if tokens.reasoning:
        values["output_reasoning_tokens"] = tokens.reasoning
    calc = model_price.calc_price(PriceUsage(**values))
    return float(calc["total_price"] if isinstance(calc, dict) else calc.total_price)


def _highest(value: Any) -> float:
    """The highest per-MTok price a (possibly tiered) price can reach."""
    if value is None:
        return 0.0
    if isinstance(value, Decimal | int | float):
        return float(value)
    tiers = getattr(value, "tiers", None) or ()
    return max([float(getattr(value, "base", 0) or 0), *(float(t.price) for t in tiers)])


def worst_catalog_price(model_price: Any) -> Price:
    """The highest price any input token / any output token can cost on this model: every
    input-side price (plain, cache reads and writes, audio, image, video, tool) and every
    output-side price, at their highest long-context tier."""
    worst_in = worst_out = 0.0
    for name, value in vars(model_price).items():
        if value is None or not name.endswith("_mtok"):
            continue
        if name.startswith(("input_", "cache_")):
            worst_in = max(worst_in, _highest(value))
        elif name.startswith("output_"):
            worst_out = max(worst_out, _highest(value))
    return Price(worst_in, worst_out)


def worst_flat_price(price: Price) -> Price:
    candidates = [price.input, price.cached_input, price.cache_write, price.cache_write_1h]
    return Price(max(p for p in candidates if p is not None), price.output)
