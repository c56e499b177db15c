"""Hard constraints: which candidates can serve this request, and why each other one cannot.

``reject_reason`` returns the first constraint a candidate fails (the reason shown in
``x-unigate-auto-rejected``) or None. The checks run in this order, so each rejected candidate
is reported under one reason:

========== ============================================================================
reason     eliminated when
========== ============================================================================
not_allowed the caller's key may not use the model (``allowed_models``)
privacy    a deployment is not local (``local-only``) or not on the provider / region allowlist
tools      the request has tools or tool turns and the model has no tool calling
vision     the request has images and the model has no vision
json_schema the request asks for ``response_format: json_schema`` and the model lacks it
context    estimated prompt tokens + max_tokens exceed the context window, or max_tokens
           exceeds the model's maximum output
price      the blended price is above ``max_price_per_mtok`` (or unknown while a ceiling is set)
quality    the model's quality is below ``min_quality``
unhealthy  every deployment of the model is cooling down / failing
latency    the best deployment's recent latency (EWMA) is above ``max_latency_ms``
ttft       the best deployment's recent time to first token is above ``max_ttft_ms``
========== ============================================================================

Privacy rules are all applied: the policy's and the request's (a request can only tighten).
Live statistics that are missing or stale never reject: a model without recent traffic is
given the chance to show its latency.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from unigate.context import may_use
from unigate.routing.auto.candidates import Candidate
from unigate.routing.auto.request import Needs


class LiveView(Protocol):
    """Per-deployment live state (health and latency statistics)."""

    def healthy(self, deployment_id: str) -> bool: ...

    def latency_ms(self, deployment_id: str) -> float | None: ...

    def ttft_ms(self, deployment_id: str) -> float | None: ...


@dataclass(slots=True)
class Limits:
    """A policy's constraints merged with the request's overrides."""

    privacy: list[Any] = field(default_factory=list)  # "local-only" or {"providers": [...], "regions": [...]}
    max_price_per_mtok: float | None = None
    max_latency_ms: float | None = None
    max_ttft_ms: float | None = None
    min_quality: float | None = None
    allowed_models: frozenset[str] | None = None


def tighter(current: float | None, override: float | None) -> float | None:
    if override is None:
        return current
    return override if current is None else min(current, override)


def privacy_ok(candidate: Candidate, rule: Any) -> bool:
    if rule is None or rule == "any":
        return True
    if rule == "local-only":
        return candidate.local
    providers = _get(rule, "providers")
    regions = _get(rule, "regions")
    if providers is not None and not candidate.providers <= set(providers):
        return False
    return regions is None or all(region is not None and region in regions for region in candidate.regions)


def _get(rule: Any, name: str) -> Any:
    return rule.get(name) if isinstance(rule, dict) else getattr(rule, name, None)


def _best(values: list[float | None]) -> float | None:
    """The best (lowest) known value, or None if any deployment has none (unknown → allowed)."""
    if any(v is None for v in values):
        return None
    return min(v for v in values if v is not None) if values else None


def reject_reason(candidate: Candidate, needs: Needs, limits: Limits, live: LiveView | None) -> str | None:
    if not may_use(limits.allowed_models, candidate.name):
        return "not_allowed"
    for rule in limits.privacy:
        if not privacy_ok(candidate, rule):
            return "privacy"
    if needs.tools and not candidate.tools:
        return "tools"
    if needs.vision and not candidate.vision:
        return "vision"
    if needs.json_schema and not candidate.json_schema:
        return "json_schema"
    if candidate.context_window is not None and needs.total_tokens > candidate.context_window:
        return "context"
    if candidate.max_output_tokens is not None and needs.output_tokens > candidate.max_output_tokens:
        return "context"
    if limits.max_price_per_mtok is not None and (
        candidate.price is None or candidate.price > limits.max_price_per_mtok
    ):
        return "price"
    if limits.min_quality is not None and candidate.quality < limits.min_quality:
        return "quality"
    if live is None:
        return None
    ids = candidate.deployment_ids
    healthy = [d for d in ids if live.healthy(d)]
    if not healthy:
        return "unhealthy"
    if limits.max_latency_ms is not None:
        best = _best([live.latency_ms(d) for d in healthy])
        if best is not None and best > limits.max_latency_ms:
            return "latency"
    if limits.max_ttft_ms is not None:
        best = _best([live.ttft_ms(d) for d in healthy])
        if best is not None and best > limits.max_ttft_ms:
            return "ttft"
    return None
