"""Observability: Prometheus metrics, structured request logs, OpenTelemetry spans, and the
in-memory time series the dashboard charts. Installed on the server by :mod:`.install`."""

from unigate.observability.hook import ObservabilityHook

__all__ = ["ObservabilityHook"]
