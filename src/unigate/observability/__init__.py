"""Observability: Prometheus metrics, structured request logs, OpenTelemetry spans, and the
in-memory time series the dashboard charts: one request hook, built by the composition root;
``GET /metrics`` is a server surface (:mod:`unigate.server.metrics_api`)."""

from unigate.observability.hook import ObservabilityHook

__all__ = ["ObservabilityHook"]
