"""OpenTelemetry spans per request, following the GenAI semantic conventions (optional).

Needs the ``otel`` extra (``pip install 'unigate[otel]'``) and ``observability.otel: true``.
Spans go to the global tracer provider, so the usual OpenTelemetry setup applies
(``opentelemetry-instrument``, ``OTEL_EXPORTER_OTLP_ENDPOINT`` …, or your own
``trace.set_tracer_provider(...)``). Without the package, :func:`make_tracer` returns ``None``
and nothing is traced.
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger("unigate.observability")

SPAN_KEY = "otel_span"
_REQUEST_PARAMS = (
    ("max_tokens", "gen_ai.request.max_tokens"),
    ("max_completion_tokens", "gen_ai.request.max_tokens"),
    ("temperature", "gen_ai.request.temperature"),
    ("top_p", "gen_ai.request.top_p"),
    ("frequency_penalty", "gen_ai.request.frequency_penalty"),
    ("presence_penalty", "gen_ai.request.presence_penalty"),
    ("seed", "gen_ai.request.seed"),
)


class Tracer:
    """Starts a CLIENT span in ``before`` and ends it in ``after`` with the outcome."""

    def __init__(self, otel_trace: Any) -> None:
        self._trace = otel_trace
        self._tracer = otel_trace.get_tracer("unigate")
        self._kind = otel_trace.SpanKind.CLIENT
        self._error = otel_trace.Status(otel_trace.StatusCode.ERROR)

    def start(self, ctx: Any, request: dict[str, Any]) -> None:
        operation = "embeddings" if ctx.endpoint == "embeddings" else "chat"
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": operation,
            "gen_ai.request.model": ctx.model,
            "unigate.request_id": ctx.request_id,
            "unigate.stream": ctx.stream,
        }
        for name, attribute in _REQUEST_PARAMS:
            value = request.get(name)
            if isinstance(value, int | float) and not isinstance(value, bool):
                attributes[attribute] = value
        if ctx.principal.team_id:
            attributes["unigate.team_id"] = ctx.principal.team_id
        if ctx.principal.key_name:
            attributes["unigate.key_name"] = ctx.principal.key_name
        span = self._tracer.start_span(f"{operation} {ctx.model}", kind=self._kind, attributes=attributes)
        ctx.extras[SPAN_KEY] = span

    def finish(self, ctx: Any) -> None:
        span = ctx.extras.pop(SPAN_KEY, None)
        if span is None:
            return
        deployment = ctx.trace.deployment
        if deployment is not None:
            span.set_attribute("gen_ai.system", deployment.provider)
            span.set_attribute("gen_ai.provider.name", deployment.provider)
            span.set_attribute("gen_ai.response.model", deployment.model)
            span.set_attribute("unigate.deployment", deployment.id)
        span.set_attribute("gen_ai.request.model", ctx.model)  # auto routing may have rewritten it
        usage = ctx.usage
        if usage:
            if usage.get("prompt_tokens") is not None:
                span.set_attribute("gen_ai.usage.input_tokens", usage["prompt_tokens"])
            if usage.get("completion_tokens") is not None:
                span.set_attribute("gen_ai.usage.output_tokens", usage["completion_tokens"])
        if ctx.cost is not None:
            span.set_attribute("unigate.cost_usd", ctx.cost)
        if ctx.trace.ttft_ms is not None:
            span.set_attribute("unigate.ttft_ms", ctx.trace.ttft_ms)
        span.set_attribute("unigate.attempts", len(ctx.trace.attempts))
        for attempt in ctx.trace.attempts:
            if attempt.error:
                span.add_event(
                    "unigate.attempt_failed",
                    {"unigate.deployment": attempt.deployment, "error.type": attempt.error},
                )
        if ctx.status != "ok":
            error = type(ctx.error).__name__ if ctx.error is not None else ctx.status
            span.set_attribute("error.type", error)
            span.set_status(self._error)
        span.end()


def make_tracer() -> Tracer | None:
    try:
        from opentelemetry import trace
    except ImportError:
        log.warning("observability.otel is on but opentelemetry is not installed (pip install 'unigate[otel]')")
        return None
    return Tracer(trace)
