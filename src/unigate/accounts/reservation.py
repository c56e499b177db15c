"""The worst-case reservation policy: the most one request can cost, over everything it can reach.

A request is admitted against a key's credit or budget only after this much is reserved, so
committed spend can never pass the limit. The worst case covers every deployment the request
can reach: the group's own deployments, the group's configured fallback chains (followed
transitively, as the router does), the request's own fallbacks (``models: [...]`` and
``route.fallbacks`` / ``route.context_window_fallbacks`` / ``route.content_filter_fallbacks``),
and dynamic ``provider/<model>`` names whether or not the gateway remembers them.

    reservation = prompt_tokens × worst input price + n × output_tokens × worst output price

- prompt tokens: UTF-8 bytes of the prompt (an upper bound for byte-level BPE tokenizers);
- worst input price: the highest price any reachable deployment charges for a prompt token —
  plain input, cache writes (5-minute and 1-hour), cache reads, audio, every long-context tier;
- output tokens: the request's ``max_completion_tokens`` / ``max_tokens`` (capped by the largest
  output a reachable model can produce); without one, that largest output from the catalog,
  else the largest context window; when neither is known, ``accounts.default_max_output_tokens``
  is both reserved and sent upstream as ``max_tokens``, so the bound holds by construction;
- ``n``: every choice may produce the full output.

A deployment without a known price makes the whole request unpriced: a key with a credit or a
budget is refused (never served for free).

Media requests (audio, images, rerank, moderation) are reserved in their own units: the most
the request's seconds of audio, characters, images or searches cost on any reachable
deployment at the catalog's media prices (``catalog/media.py``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from unigate.accounts.models import reservation_nano
from unigate.catalog.counting import prompt_bytes as estimate_prompt_bytes
from unigate.config import AccountsConfig

_CHAINS = ("fallbacks", "context_window_fallbacks", "content_filter_fallbacks")
_CACHE_LIMIT = 4096  # closures remembered (configured names; dynamic names are computed each time)


class _Deployment(Protocol):
    @property
    def provider(self) -> str: ...
    @property
    def model(self) -> str: ...
    @property
    def public_name(self) -> str: ...


class _Group(Protocol):
    name: str
    deployments: Any
    routing: Any


class _Catalog(Protocol):
    def worst_price(self, deployment: Any) -> Any: ...

    def info(self, provider: str, model: str) -> Any: ...

    def request_cost(self, provider: str, model: str, usage: Any, public_name: str | None = None) -> Any: ...


@dataclass(frozen=True, slots=True)
class Exposure:
    """The worst prices and the largest output over a set of deployments."""

    input: float  # USD per 1M prompt tokens
    output: float  # USD per 1M output tokens
    max_output: int | None  # tokens; None when some reachable model's bound is unknown
    context_window: int | None
    unpriced: str | None = None  # a reachable deployment with no known price (then the prices mean nothing)

    def widen(self, other: Exposure) -> Exposure:
        return Exposure(
            max(self.input, other.input),
            max(self.output, other.output),
            _max_or_none(self.max_output, other.max_output),
            _max_or_none(self.context_window, other.context_window),
            self.unpriced or other.unpriced,
        )


NOTHING = Exposure(0.0, 0.0, 0, 0)


@dataclass(frozen=True, slots=True)
class Reservation:
    prompt_tokens: int
    output_tokens: int  # all choices together
    nusd: int  # the amount to reserve
    prompt_nusd: int  # the prompt alone at the worst input price
    exposure: Exposure


def _max_or_none(a: int | None, b: int | None) -> int | None:
    return None if a is None or b is None else max(a, b)


def request_fallbacks(request: Mapping[str, Any]) -> list[str]:
    """Every model name the request itself names as a fallback (the router validates them)."""
    names: list[str] = []

    def add(value: Any) -> None:
        if isinstance(value, list):
            names.extend(v for v in value if isinstance(v, str))

    add(request.get("models"))
    route = request.get("route")
    if isinstance(route, dict):
        for chain in _CHAINS:
            add(route.get(chain))
    return names


def choices(request: Mapping[str, Any]) -> int:
    n = request.get("n")
    return n if isinstance(n, int) and not isinstance(n, bool) and n > 1 else 1


MEDIA_ENDPOINTS = frozenset(
    {"transcription", "translation", "speech", "image_generation", "image_edit", "rerank", "moderation"}
)
AUDIO_BYTES_PER_SECOND = 1000  # an upper bound on seconds when the file's duration is unknown (8 kbit/s)


def media_units(request: Mapping[str, Any], endpoint: str) -> dict[str, Any]:
    """The most a media request can be billed for, in the units its prices use."""
    if endpoint in ("transcription", "translation"):
        seconds = request.get("_duration")
        if not isinstance(seconds, int | float):
            upload = request.get("file")
            seconds = len(getattr(upload, "data", b"")) / AUDIO_BYTES_PER_SECOND
        return {"audio_seconds": float(seconds)}
    if endpoint == "speech":
        return {"characters": len(str(request.get("input") or ""))}
    if endpoint in ("image_generation", "image_edit"):
        return {
            "images": choices(request),
            "image_size": str(request.get("size") or "1024x1024"),
            "image_quality": str(request.get("quality") or "standard"),
        }
    documents = request.get("documents")
    if endpoint == "rerank":
        return {"search_units": max(1, -(-len(documents) // 100)) if isinstance(documents, list) else 1}
    return {"search_units": 1}


class ReservationPolicy:
    """Computes reservations; ``find_group`` resolves any public name the router could reach
    (configured, remembered dynamic, or a dynamic name the gateway would not remember)."""

    def __init__(self, find_group: Callable[[str], _Group | None], catalog: _Catalog, settings: AccountsConfig) -> None:
        self.find_group = find_group
        self.catalog = catalog
        self.settings = settings
        self._closures: dict[str, Exposure] = {}

    # -- what a request can reach ----------------------------------------------------------

    def _deployment_exposure(self, deployment: Any) -> Exposure:
        info = self.catalog.info(deployment.provider, deployment.model)
        price = self.catalog.worst_price(deployment)
        if price is None:
            return Exposure(0.0, 0.0, info.max_output_tokens, info.context_window, unpriced=deployment.public_name)
        return Exposure(price.input, price.output, info.max_output_tokens, info.context_window)

    def closure(self, name: str) -> Exposure:
        """The group ``name`` and every group its configured chains reach (transitively)."""
        cached = self._closures.get(name)
        if cached is not None:
            return cached
        worst = NOTHING
        seen: set[str] = set()
        pending = [name]
        dynamic = False
        while pending:
            current = pending.pop()
            if current in seen:
                continue
            seen.add(current)
            group = self.find_group(current)
            if group is None:
                continue  # the router cannot reach it either
            dynamic = dynamic or "/" in current
            for deployment in group.deployments:
                worst = worst.widen(self._deployment_exposure(deployment))
            routing = getattr(group, "routing", None)
            for chain in _CHAINS:
                pending.extend(getattr(routing, chain, None) or ())
        if worst is NOTHING:  # nothing reachable is known: no price can be vouched for
            worst = Exposure(0.0, 0.0, None, None, unpriced=name)
        if not dynamic:  # client-chosen names are not remembered: memory stays bounded
            if len(self._closures) >= _CACHE_LIMIT:
                self._closures.clear()
            self._closures[name] = worst
        return worst

    def exposure(self, model: str, request: Mapping[str, Any]) -> Exposure:
        worst = self.closure(model)
        for name in request_fallbacks(request):
            if name != model:
                worst = worst.widen(self.closure(name))
        return worst

    # -- the reservation -------------------------------------------------------------------

    def output_tokens(self, request: dict[str, Any], exposure: Exposure, endpoint: str) -> int:
        """Output tokens of one choice in the worst case; may set ``max_tokens`` on the request
        when nothing else bounds the output."""
        if endpoint == "embeddings":
            return 0
        asked = request.get("max_completion_tokens") or request.get("max_tokens")
        if isinstance(asked, int) and not isinstance(asked, bool) and asked > 0:
            return min(asked, exposure.max_output) if exposure.max_output else asked
        if exposure.max_output:
            return exposure.max_output
        if exposure.context_window:
            return exposure.context_window
        bound = self.settings.default_max_output_tokens
        request["max_tokens"] = bound  # the reservation is the bound: the upstream may not exceed it
        return bound

    def reserve_media(self, request: dict[str, Any], model: str, endpoint: str) -> Reservation:
        units = media_units(request, endpoint)
        worst = 0.0
        unpriced: str | None = None
        seen: set[str] = set()
        pending = [model, *request_fallbacks(request)]
        while pending:
            current = pending.pop()
            group = self.find_group(current) if current not in seen else None
            seen.add(current)
            if group is None:
                continue
            for deployment in group.deployments:
                cost = self.catalog.request_cost(deployment.provider, deployment.model, units, deployment.public_name)
                if cost is None:
                    unpriced = unpriced or deployment.public_name
                else:
                    worst = max(worst, cost)
            for chain in _CHAINS:
                pending.extend(getattr(getattr(group, "routing", None), chain, None) or ())
        exposure = Exposure(0.0, 0.0, 0, 0, unpriced=unpriced)
        return Reservation(0, 0, 0 if unpriced else math.ceil(round(worst * 1e9, 3)), 0, exposure)

    def prompt_tokens(self, request: Mapping[str, Any]) -> int:
        return math.ceil(estimate_prompt_bytes(request) / self.settings.prompt_bytes_per_token)

    def reserve(self, request: dict[str, Any], model: str, endpoint: str) -> Reservation:
        if endpoint in MEDIA_ENDPOINTS:
            return self.reserve_media(request, model, endpoint)
        exposure = self.exposure(model, request)
        prompt_tokens = self.prompt_tokens(request)
        if exposure.unpriced is not None:
            return Reservation(prompt_tokens, 0, 0, 0, exposure)
        output = self.output_tokens(request, exposure, endpoint) * choices(request)
        return Reservation(
            prompt_tokens,
            output,
            reservation_nano(prompt_tokens, output, exposure.input, exposure.output),
            reservation_nano(prompt_tokens, 0, exposure.input, 0.0),
            exposure,
        )
