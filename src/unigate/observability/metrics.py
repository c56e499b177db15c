"""Prometheus metrics for one gateway, in a registry of its own (never the process-global one).

Labels are bounded whatever clients send: public model, deployment and provider come from the
gateway's own config (the groups it has at start); names clients choose (dynamic
``provider/model`` names) are kept up to a small cap and then collapse to ``other``; teams are
capped the same way; errors are labelled by class name from the fixed error tree. Keys, key
names and prompts are never labels. The scrape-time health gauges cover the configured
deployments only. So the number of series, the size of a scrape and the memory held here have
a fixed ceiling (``tests/observability/test_metrics.py`` sends thousands of names to show it).

The hot path (:meth:`GatewayMetrics.finished`) costs a few set and dict lookups: the
prometheus child objects for each (bounded) label tuple are resolved once and cached.
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


class LabelSet:
    """The bounded model / deployment / provider / team labels of one gateway (shared by the
    metrics and the dashboard's time series, so both stay within the same ceiling)."""

    def __init__(self, groups: dict[str, Any], *, team_cap: int = 50, model_cap: int = 20) -> None:
        deployments = [d for g in groups.values() for d in g.deployments]
        # model_cap: names beyond the config (client-chosen) that get a label of their own
        self.model = BoundedLabel(list(groups), cap=model_cap)
        self.deployment = BoundedLabel([d.id for d in deployments], cap=model_cap)
        self.provider = BoundedLabel([d.provider for d in deployments], cap=10)
        self.team = BoundedLabel(cap=team_cap)

    def __call__(self, model: str, deployment: str, provider: str, team: str) -> tuple[str, str, str, str]:
        return (
            self.model(model),
            self.deployment(deployment) if deployment != NONE else NONE,
            self.provider(provider) if provider != NONE else NONE,
            self.team(team) if team != NONE else NONE,
        )


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

    def __init__(self, groups: Mapping[str, Any], health: Any, known: frozenset[str]) -> None:
        self._groups = groups
        self._health = health
        self._known = known  # configured groups: remembered dynamic ones would grow the scrape

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
            if group.name not in self._known:
                continue
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
        self, models: Mapping[str, Any], health: Any = None, *, team_cap: int = 50, model_cap: int = 20
    ) -> None:
        """``models``: the served model groups (bounded label sets); ``health``: the router's
        deployment health, read at scrape time."""
        self.registry = CollectorRegistry(auto_describe=True)
        groups = dict(models)
        self.labels = LabelSet(groups, team_cap=team_cap, model_cap=model_cap)
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
        self.registry.register(HealthCollector(models, health, frozenset(groups)))
        # caches of prometheus children, keyed by the bounded labels (never by what a client sent)
        self._children: dict[tuple[str, str, str, str, str], _Children] = {}
        self._in_flight: dict[str, Any] = {}
        self._errors: dict[tuple[str, str, str, str, str], Any] = {}

    # -- hot path ----------------------------------------------------------------------------

    def started(self, model: str) -> None:
        label = self.labels.model(model)
        child = self._in_flight.get(label)
        if child is None:
            child = self._in_flight[label] = self.in_flight.labels(label)
        child.inc()

    def finished(self, ctx: Any) -> None:
        in_flight = self._in_flight.get(self.labels.model(ctx.model))
        if in_flight is not None:
            in_flight.dec()
        deployment = ctx.trace.deployment
        labels = self.labels(
            ctx.model,
            deployment.id if deployment is not None else NONE,
            deployment.provider if deployment is not None else NONE,
            ctx.principal.team_id or NONE,
        )
        key = (*labels, ctx.status)
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
            ekey = (*labels, error)
            counter = self._errors.get(ekey)
            if counter is None:
                counter = self._errors[ekey] = self.errors.labels(*ekey)
            counter.inc()
        attempts = ctx.trace.attempts
        if len(attempts) > 1 or (attempts and attempts[0].error):
            for attempt in attempts:
                if attempt.error:
                    self.attempt_failures.labels(self.labels.deployment(attempt.deployment), attempt.error[:60]).inc()
        auto = ctx.extras.get("auto")
        if auto is not None:
            self._auto(ctx, auto)

    # -- helpers -----------------------------------------------------------------------------

    def _make_children(self, key: tuple[str, str, str, str, str]) -> _Children:
        labels = key[:4]
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

        chosen = self.labels.model(str(field("chosen", "model", "choice") or ctx.model))
        requested = self.labels.model(str(field("policy", "requested", "requested_model") or "auto"))
        self.auto_choices.labels(requested, chosen).inc()
        saving = field("estimated_saving", "estimated_saving_usd", "saving")
        if isinstance(saving, int | float) and saving > 0:
            self.auto_saving.labels(chosen).inc(saving)

    def render(self) -> bytes:
        return generate_latest(self.registry)
