"""Candidates: the public models a policy may choose, with what auto routing needs to know
about each, resolved once at startup (catalog row + the model's config overrides)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from unigate.providers.registry import LOCAL_PROVIDERS

if TYPE_CHECKING:
    from unigate.routing.groups import ModelGroups

T = TypeVar("T")

DEFAULT_QUALITY = 0.5  # a model neither the catalog nor the config rates
INPUT_SHARE = 0.75  # blended price: 3 input tokens per output token


@dataclass(frozen=True, slots=True)
class Candidate:
    name: str  # public model name
    provider: str  # of the first deployment (prices, cost estimates)
    model: str
    deployment_ids: tuple[str, ...]
    providers: frozenset[str]
    regions: tuple[str | None, ...]  # per deployment (option "region"), None when unknown
    local: bool  # every deployment runs on the user's own machines
    context_window: int | None
    max_output_tokens: int | None
    tools: bool
    vision: bool
    json_schema: bool
    quality: float
    price: float | None  # blended USD per 1M tokens; None when unknown

    @property
    def sort_key(self) -> tuple[float, float]:
        """Cheapest first, then strongest first; unknown prices last."""
        return (self.price if self.price is not None else float("inf"), -self.quality)


def blended(input_per_mtok: float, output_per_mtok: float) -> float:
    return INPUT_SHARE * input_per_mtok + (1 - INPUT_SHARE) * output_per_mtok


def chat_model_names(models: ModelGroups) -> list[str]:
    """Every served public model that can chat (embedding, audio, image, moderation and rerank
    models excluded), without aliases that point at the same upstream model as an earlier name."""
    names: list[str] = []
    seen: set[tuple[tuple[str, str], ...]] = set()
    for name, group in models.items():
        key = tuple((d.provider, d.model) for d in group.deployments)
        if key in seen:
            continue
        first = group.deployments[0]
        if models.catalog.info(first.provider, first.model).embedding:
            continue
        endpoints = models.catalog.endpoints(first.provider, first.model, name)
        if endpoints is not None and "chat" not in endpoints:
            continue
        seen.add(key)
        names.append(name)
    return names


def build_candidate(models: ModelGroups, name: str) -> Candidate | None:
    group = models.get(name)
    if group is None:
        return None
    first = group.deployments[0]
    info = models.catalog.info(first.provider, first.model, name)
    config = next((m for m in models.config.models if m.name == name), None)
    caps = config.capabilities if config is not None else None
    quality = config.quality if config is not None and config.quality is not None else info.quality
    price = info.price
    return Candidate(
        name=name,
        provider=first.provider,
        model=first.model,
        deployment_ids=tuple(d.id for d in group.deployments),
        providers=frozenset(d.provider for d in group.deployments),
        regions=tuple(_region(d.options) for d in group.deployments),
        local=all(d.provider in LOCAL_PROVIDERS for d in group.deployments),
        context_window=_pick(caps.context_window if caps else None, info.context_window),
        max_output_tokens=_pick(caps.max_output_tokens if caps else None, info.max_output_tokens),
        tools=_pick(caps.tools if caps else None, info.tools),
        vision=_pick(caps.vision if caps else None, info.vision),
        json_schema=_pick(caps.json_schema if caps else None, info.json_schema),
        quality=DEFAULT_QUALITY if quality is None else float(quality),
        price=None if price is None else blended(price.input, price.output),
    )


def _pick(override: T | None, default: T) -> T:
    return default if override is None else override


def _region(options: tuple[tuple[str, object], ...]) -> str | None:
    for key, value in options:
        if key == "region" and isinstance(value, str):
            return value
    return None
