"""The cost matrix: recorded real usage bodies of every native provider, translated by the
gateway and priced by the catalog, against genai-prices' own reading and pricing of the same
bodies; then the kinds of tokens the recordings lack (1-hour cache writes, long-context tiers,
audio, reasoning), each against the provider's published arithmetic."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import genai_prices
import pytest
import yaml

from tests.support.paths import REPO
from unigate.catalog import Catalog, Price
from unigate.catalog.pricing import flat_cost, tokens_of
from unigate.errors import ProviderError
from unigate.providers import anthropic, bedrock, cohere, gemini

RECORDINGS = REPO / "tests" / "fixtures" / "provider-recordings"

# provider folder → (genai-prices provider id, api flavour, model id of a reply, canonical usage of a reply)
Reader = Callable[[dict[str, Any], dict[str, Any]], str | None]


def _bedrock_model(body: dict[str, Any], request: dict[str, Any]) -> str | None:
    parts = request["uri"].split("/model/", 1)
    return parts[1].split("/", 1)[0].replace("%3A", ":") if len(parts) == 2 else None


NATIVE: dict[str, tuple[str, str, Reader, Callable[[dict[str, Any]], Any]]] = {
    "anthropic": ("anthropic", "default", lambda b, r: b.get("model"), lambda b: anthropic.from_native(b, "m")),
    "gemini": ("google", "default", lambda b, r: b.get("modelVersion"), lambda b: gemini.from_native(b, "m")),
    "bedrock": ("aws", "default", _bedrock_model, lambda b: bedrock.from_native(b, "m")),
    "cohere": (
        "cohere",
        "default",
        lambda b, r: (r.get("parsed_body") or {}).get("model"),
        lambda b: cohere.from_native(b, "m"),
    ),
}
COMPATIBLE = {"openai": "openai", "groq": "groq", "mistral": "mistral", "deepseek": "deepseek"}


def _cases() -> Iterator[tuple[str, str, dict[str, Any], dict[str, Any]]]:
    for folder in sorted(RECORDINGS.iterdir()):
        if not folder.is_dir() or (folder.name not in NATIVE and folder.name not in COMPATIBLE):
            continue
        for path in sorted(folder.glob("*.yaml")):
            for index, interaction in enumerate(yaml.safe_load(path.read_text())["interactions"]):
                body = interaction["response"].get("parsed_body")
                if (
                    interaction["response"]["status"]["code"] == 200
                    and isinstance(body, dict)
                    and body.get("usage", body.get("usageMetadata"))
                ):
                    yield folder.name, f"{path.stem}#{index}", body, interaction["request"]


CASES = list(_cases())


def _oracle(provider: str, body: dict[str, Any], model: str) -> float | None:
    """genai-prices' own extraction and price of a recorded reply (None when it cannot)."""
    gp_provider, flavour = (NATIVE[provider][0], NATIVE[provider][1]) if provider in NATIVE else (provider, "chat")
    try:
        extracted = genai_prices.extract_usage(body, provider_id=gp_provider, api_flavor=flavour)
        return float(genai_prices.calc_price(extracted.usage, model, provider_id=gp_provider).total_price)
    except (LookupError, ValueError):
        return None


def _ours(catalog: Catalog, provider: str, body: dict[str, Any], request: dict[str, Any]) -> tuple[str | None, Any]:
    if provider in NATIVE:
        try:
            reply = NATIVE[provider][3](body)
        except ProviderError:  # a reply the gateway refuses (no content): not a pricing case
            return None, None
        return NATIVE[provider][2](body, request), reply.get("usage")
    return body.get("model"), body.get("usage")


def test_recorded_usage_of_every_provider_is_priced_as_genai_prices_prices_it():
    catalog = Catalog()
    compared: Counter[str] = Counter()
    for provider, name, body, request in CASES:
        model, usage = _ours(catalog, provider, body, request)
        if model is None or usage is None:
            continue
        expected = _oracle(provider, body, model)
        if expected is None:
            continue
        ours = catalog.cost(provider, model, usage)
        assert ours == pytest.approx(expected, rel=1e-9, abs=1e-12), (provider, name, usage)
        compared[provider] += 1
    # every native provider's usage shape, and the OpenAI shape, is covered by real bodies
    for provider in ("anthropic", "gemini", "bedrock", "openai"):
        assert compared[provider] >= 10, compared
    assert compared["cohere"] >= 1, compared


def test_recorded_anthropic_cache_writes_and_reads_are_priced_apart():
    catalog = Catalog()
    path = RECORDINGS / "anthropic" / "test_anthropic_cache_real_api.yaml"
    bodies = [i["response"]["parsed_body"] for i in yaml.safe_load(path.read_text())["interactions"]]
    body = next(b for b in bodies if (b.get("usage") or {}).get("cache_creation_input_tokens"))
    usage = anthropic.from_native(body, "m")["usage"]
    assert usage["prompt_tokens_details"]["cache_creation_tokens"] == 418
    assert usage["prompt_tokens_details"]["cache_creation_5m_tokens"] == 418
    # claude-sonnet-4-5: $3 input, $3.75 5-minute writes, $0.30 reads, $15 output (per MTok)
    expected = (3 * 3.0 + 418 * 3.75 + 1111 * 0.30 + 33 * 15.0) / 1e6
    assert catalog.cost("anthropic", body["model"], usage) == pytest.approx(expected, rel=1e-12)
    reads_only = {**usage, "prompt_tokens_details": {"cached_tokens": 1111}}
    assert catalog.cost("anthropic", body["model"], reads_only) < expected  # writes as plain input: cheaper


def test_one_hour_cache_writes_cost_their_own_price():
    catalog = Catalog()
    native = {
        "input_tokens": 10,
        "cache_creation_input_tokens": 1000,
        "cache_creation": {"ephemeral_5m_input_tokens": 400, "ephemeral_1h_input_tokens": 600},
        "cache_read_input_tokens": 0,
        "output_tokens": 20,
    }
    usage = anthropic.usage_from_native(native)
    expected = (10 * 3.0 + 400 * 3.75 + 600 * 6.0 + 20 * 15.0) / 1e6
    assert catalog.cost("anthropic", "claude-sonnet-4-5", usage) == pytest.approx(expected, rel=1e-12)


def test_long_context_tier_prices_every_token_at_the_tier():
    catalog = Catalog()
    short = {"prompt_tokens": 200_000, "completion_tokens": 1000}
    long = {"prompt_tokens": 200_001, "completion_tokens": 1000}
    # gemini-2.5-pro: $1.25 / $10 up to 200k prompt tokens, $2.50 / $15 above
    assert catalog.cost("gemini", "gemini-2.5-pro", short) == pytest.approx((200_000 * 1.25 + 1000 * 10) / 1e6)
    assert catalog.cost("gemini", "gemini-2.5-pro", long) == pytest.approx((200_001 * 2.5 + 1000 * 15) / 1e6)


def test_audio_tokens_are_priced_as_audio():
    catalog = Catalog()
    usage = {
        "prompt_tokens": 1000,
        "completion_tokens": 100,
        "prompt_tokens_details": {"audio_tokens": 400, "cached_tokens": 0},
        "completion_tokens_details": {"audio_tokens": 60},
    }
    # gpt-4o-mini-realtime-preview: text $0.60 / $2.40, audio $10 / $20 per MTok
    expected = (600 * 0.6 + 400 * 10 + 40 * 2.4 + 60 * 20) / 1e6
    assert catalog.cost("openai", "gpt-4o-mini-realtime-preview", usage) == pytest.approx(expected, rel=1e-9)


def test_reasoning_tokens_are_output_tokens():
    catalog = Catalog()
    usage = {"prompt_tokens": 100, "completion_tokens": 500, "completion_tokens_details": {"reasoning_tokens": 450}}
    assert catalog.cost("openai", "o3-mini", usage) == pytest.approx((100 * 1.1 + 500 * 4.4) / 1e6)


def test_n_choices_are_charged_by_their_total_output():
    # usage of an n=3 reply counts the prompt once and every choice's output
    catalog = Catalog()
    usage = {"prompt_tokens": 10, "completion_tokens": 3 * 7}
    assert catalog.cost("openai", "gpt-4o-mini", usage) == pytest.approx((10 * 0.15 + 21 * 0.6) / 1e6)


def test_anthropic_streaming_usage_equals_the_reply_usage():
    """message_start carries the input and cache figures, message_delta the output: merged, they
    price like the non-streamed reply."""
    translator = anthropic.StreamTranslator("m")
    start = {
        "type": "message_start",
        "message": {
            "id": "msg_1",
            "model": "claude-sonnet-4-5",
            "role": "assistant",
            "content": [],
            "usage": {"input_tokens": 3, "cache_creation_input_tokens": 418, "cache_read_input_tokens": 1111,
                      "cache_creation": {"ephemeral_5m_input_tokens": 418, "ephemeral_1h_input_tokens": 0},
                      "output_tokens": 1},
        },
    }  # fmt: skip
    delta = {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 33}}
    chunks = [c for event in (start, delta, {"type": "message_stop"}) for c in translator.feed(None, event)]
    usage = next(c["usage"] for c in chunks if c.get("usage"))
    expected = (3 * 3.0 + 418 * 3.75 + 1111 * 0.30 + 33 * 15.0) / 1e6
    assert Catalog().cost("anthropic", "claude-sonnet-4-5", usage) == pytest.approx(expected, rel=1e-12)


def test_config_prices_price_cache_writes_at_input_unless_set():
    tokens = tokens_of({"prompt_tokens": 100, "completion_tokens": 10,
                        "prompt_tokens_details": {"cached_tokens": 20, "cache_creation_tokens": 30,
                                                  "cache_creation_1h_tokens": 10}})  # fmt: skip
    assert flat_cost(Price(1.0, 2.0), tokens) == pytest.approx((100 * 1.0 + 10 * 2.0) / 1e6)
    assert flat_cost(Price(1.0, 2.0, 0.1, 1.25, 2.0), tokens) == pytest.approx(
        (50 * 1.0 + 20 * 0.1 + 20 * 1.25 + 10 * 2.0 + 10 * 2.0) / 1e6
    )


def test_details_larger_than_their_totals_cannot_make_a_cost_negative():
    tokens = tokens_of({"prompt_tokens": 5, "completion_tokens": 1, "prompt_tokens_details": {"cached_tokens": 50}})
    assert tokens.cache_read == 5 and flat_cost(Price(1.0, 1.0, 0.0), tokens) >= 0
    assert Path(RECORDINGS).is_dir()
