"""Prometheus metrics for one gateway, in a registry of its own (never the process-global one).

Labels are bounded: public model, deployment and provider come from the gateway's own config
(unknown or dynamic names collapse to ``other`` past a cap), teams are capped the same way,
errors are labelled by class name from the fixed error tree. Keys, key names and prompts are
never labels.

The hot path (:meth:`GatewayMetrics.observe`) costs a few dict lookups: the prometheus
child objects for each label tuple are resolved once and cached.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

OTHER = "other"
NONE = "none"
HEALTH_STATES = ("healthy", "cooling_down", "failing")

LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
TTFT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class BoundedLabel:
    """Maps a free-form value to itself while fewer than ``cap`` distinct values were seen,
    otherwise to ``other``. ``known`` values (from config) are always kept."""

    __slots__ = ("_cap", "_seen")

    def __init__(self, known: Iterator[str] | list[str] | tuple[str, ...] = (), cap: int = 50) -> None:
        self._seen: set[str] = set(known)
        self._cap = len(self._seen) + cap

    def __call__(self, value: str | None) -> str:
        if value is None:
            return NONE
        if value in self._seen:
            return value
        if len(value) > 120 or len(self._seen) >= self._cap:
            return OTHER
        self._seen.add(value)
        return value


@dataclass(slots=True)
class _Children:
    """The prometheus children for one (model, deployment, provider, team, status) tuple."""

    requests: Any
    input_tokens: Any
    output_tokens: Any
    cached_tokens: Any
    cost: Any
    latency: Any
    ttft: Any


class HealthCollector(Collector):
    """``unigate_deployment_state``: 1 for the state each deployment is in right now, read from
    the router's ``health.state(deployment_id)`` at scrape time (``healthy`` if there is no health
    tracker)."""

    def __init__(self, groups: Mapping[str, Any], health: Any = None) -> None:
        self._groups = groups
        self._health = health

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "unigate_deployment_state",
            "Routing health of each deployment (1 for its current state: healthy, cooling_down, failing)",
            labels=["model", "deployment", "provider", "state"],
        )
        cooling = GaugeMetricFamily(
            "unigate_deployment_cooling_down",
            "1 while a deployment is in cooldown and skipped by routing",
            labels=["model", "deployment", "provider"],
        )
        health = self._health
        for group in list(self._groups.values()):
            for deployment in group.deployments:
                state = "healthy"
                if health is not None:
                    try:
                        state = str(health.state(deployment.id))
                    except Exception:
                        state = "unknown"
                labels = [group.name, deployment.id, deployment.provider]
                for candidate in (*HEALTH_STATES, *(() if state in HEALTH_STATES else (state,))):
                    family.add_metric([*labels, candidate], 1.0 if candidate == state else 0.0)
                cooling.add_metric(labels, 1.0 if state == "cooling_down" else 0.0)
        yield family
        yield cooling


class GatewayMetrics:
    def __init__(
        self, groups: Mapping[str, Any], health: Any = None, *, team_cap: int = 50, model_cap: int = 100
    ) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        deployments = [d for g in groups.values() for d in g.deployments]
        self.model_label = BoundedLabel(list(groups), cap=model_cap)
        self.deployment_label = BoundedLabel([d.id for d in deployments], cap=model_cap)
        self.provider_label = BoundedLabel([d.provider for d in deployments], cap=30)
        self.team_label = BoundedLabel(cap=team_cap)
        base = ["model", "deployment", "provider", "team"]
        r = self.registry
        self.requests = Counter(
            "unigate_requests", "Requests admitted, by outcome (ok, error, cancelled)", [*base, "status"], registry=r
        )
        self.errors = Counter("unigate_errors", "Failed requests by error class", [*base, "error"], registry=r)
        self.tokens = Counter("unigate_tokens", "Tokens by kind (input, output, cached)", [*base, "type"], registry=r)
        self.cost = Counter("unigate_cost_usd", "Cost in USD from the catalog prices", base, registry=r)
        self.latency = Histogram(
            "unigate_request_latency_seconds",
            "Total request latency, as the gateway sees it",
            ["model", "deployment", "provider"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.ttft = Histogram(
            "unigate_time_to_first_token_seconds",
            "Time to the first content chunk of streamed answers",
            ["model", "deployment", "provider"],
            buckets=TTFT_BUCKETS,
            registry=r,
        )
        self.in_flight = Gauge("unigate_in_flight_requests", "Requests being served now", ["model"], registry=r)
        self.attempt_failures = Counter(
            "unigate_attempt_failures",
            "Abandoned attempts (retried or fallen back from), by deployment and error class",
            ["deployment", "error"],
            registry=r,
        )
        self.auto_choices = Counter(
            "unigate_auto_route_choices", "Auto-routing choices by chosen model", ["requested", "chosen"], registry=r
        )
        self.auto_saving = Counter(
            "unigate_auto_route_estimated_saving_usd",
            "Estimated saving of auto routing against the reference model",
            ["chosen"],
            registry=r,
        )
        self.registry.register(HealthCollector(groups, health))
        self._children: dict[tuple[str, str, str, str, str], _Children] = {}
        self._in_flight: dict[str, Any] = {}
        self._errors: dict[tuple[str, str, str, str, str], Any] = {}

    # -- hot path ----------------------------------------------------------------------------

    def started(self, model: str) -> None:
        child = self._in_flight.get(model)
        if child is None:
            child = self._in_flight[model] = self.in_flight.labels(self.model_label(model))
        child.inc()

    def finished(self, ctx: Any) -> None:
        model = ctx.model
        in_flight = self._in_flight.get(model)
        if in_flight is not None:
            in_flight.dec()
        deployment = ctx.trace.deployment
        dep_id = deployment.id if deployment is not None else NONE
        provider = deployment.provider if deployment is not None else NONE
        team = ctx.principal.team_id or NONE
        key = (model, dep_id, provider, team, ctx.status)
        children = self._children.get(key)
        if children is None:
            children = self._children[key] = self._make_children(key)
        children.requests.inc()
        usage = ctx.usage
        if usage:
            prompt = usage.get("prompt_tokens") or 0
            completion = usage.get("completion_tokens") or 0
            if prompt:
                children.input_tokens.inc(prompt)
            if completion:
                children.output_tokens.inc(completion)
            details = usage.get("prompt_tokens_details")
            cached = details.get("cached_tokens") if details else None
            if cached:
                children.cached_tokens.inc(cached)
        if ctx.cost:
            children.cost.inc(ctx.cost)
        if ctx.latency_ms is not None:
            children.latency.observe(ctx.latency_ms / 1e3)
        ttft = ctx.trace.ttft_ms
        if ttft is not None:
            children.ttft.observe(ttft / 1e3)
        if ctx.status == "error":
            error = type(ctx.error).__name__ if ctx.error is not None else "Refused"
            ekey = (model, dep_id, provider, team, error)
            counter = self._errors.get(ekey)
            if counter is None:
                counter = self._errors[ekey] = self.errors.labels(*self._labels(ekey[:4]), error)
            counter.inc()
        attempts = ctx.trace.attempts
        if len(attempts) > 1 or (attempts and attempts[0].error):
            for attempt in attempts:
                if attempt.error:
                    self.attempt_failures.labels(self.deployment_label(attempt.deployment), attempt.error[:60]).inc()
        auto = ctx.extras.get("auto")
        if auto is not None:
            self._auto(ctx, auto)

    # -- helpers -----------------------------------------------------------------------------

    def _labels(self, key: tuple[str, ...]) -> tuple[str, str, str, str]:
        model, dep_id, provider, team = key[:4]
        return (
            self.model_label(model),
            self.deployment_label(dep_id) if dep_id != NONE else NONE,
            self.provider_label(provider) if provider != NONE else NONE,
            self.team_label(team) if team != NONE else NONE,
        )

    def _make_children(self, key: tuple[str, str, str, str, str]) -> _Children:
        labels = self._labels(key)
        short = labels[:3]
        return _Children(
            requests=self.requests.labels(*labels, key[4]),
            input_tokens=self.tokens.labels(*labels, "input"),
            output_tokens=self.tokens.labels(*labels, "output"),
            cached_tokens=self.tokens.labels(*labels, "cached"),
            cost=self.cost.labels(*labels),
            latency=self.latency.labels(*short),
            ttft=self.ttft.labels(*short),
        )

    def _auto(self, ctx: Any, auto: Any) -> None:
        """``ctx.extras["auto"]``: a mapping or object with the chosen model (``chosen`` or
        ``model``), the policy name (``policy``, e.g. ``auto/balanced``) and ``estimated_saving_usd``."""

        def field(*names: str) -> Any:
            for name in names:
                value = auto.get(name) if isinstance(auto, dict) else getattr(auto, name, None)
                if value is not None:
                    return value
            return None

        chosen = self.model_label(str(field("chosen", "model", "choice") or ctx.model))
        requested = self.model_label(str(field("policy", "requested", "requested_model") or "auto"))
        self.auto_choices.labels(requested, chosen).inc()
        saving = field("estimated_saving", "estimated_saving_usd", "saving")
        if isinstance(saving, int | float) and saving > 0:
            self.auto_saving.labels(chosen).inc(saving)

    def render(self) -> bytes:
        return generate_latest(self.registry)
