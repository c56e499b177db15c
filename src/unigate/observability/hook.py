"""The observability RequestHook: metrics, the dashboard's time series, the request log, spans.

One hook rather than four so a request pays for one ``before`` and one ``after`` call.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

from unigate.config import ObservabilityConfig
from unigate.observability.logs import LogSetup, request_fields
from unigate.observability.metrics import NONE, GatewayMetrics, LabelSet
from unigate.observability.timeseries import TimeSeries
from unigate.observability.tracing import Tracer, make_tracer

PROMPT_KEY = "log_prompt"


class ObservabilityHook:
    """``groups``: the served model groups (the metrics' bounded label sets); ``health``: the
    router's deployment health (read at scrape time)."""

    def __init__(
        self,
        groups: Mapping[str, Any],
        config: ObservabilityConfig | None = None,
        *,
        health: Any = None,
        logs: LogSetup | None = None,
        tracer: Tracer | None = None,
    ) -> None:
        self.config = config or ObservabilityConfig()
        self.metrics: GatewayMetrics | None = GatewayMetrics(groups, health) if self.config.metrics else None
        # the time series keeps 24 h of buckets: its keys are bounded like the metrics labels
        self.labels = self.metrics.labels if self.metrics is not None else LabelSet(dict(groups))
        self.series = TimeSeries()
        self.logs = logs if self.config.log_requests else None
        self.tracer = tracer if tracer is not None else (make_tracer() if self.config.otel else None)
        self._log_prompts = self.config.log_prompts
        self._setups: list[LogSetup] = []

    async def start(self) -> None:
        """Set up the process's logs (formats, the request log's writer thread) for serving."""
        setup = LogSetup(fmt=self.config.log_format, level=self.config.log_level)
        self._setups.append(setup)
        self.logs = setup if self.config.log_requests else None

    async def stop(self) -> None:
        self.logs = None
        while self._setups:
            self._setups.pop().close()  # drains queued request lines

    async def before(self, ctx: Any, request: dict[str, Any]) -> None:
        if self.metrics is not None:
            self.metrics.started(ctx.model)
        if self.tracer is not None:
            self.tracer.start(ctx, request)
        if self._log_prompts:
            ctx.extras[PROMPT_KEY] = request.get("messages", request.get("input"))

    async def after(self, ctx: Any) -> None:
        # Recorded on the loop's next turn: the response is already on its way by then, so the
        # client never waits for metrics and the log line. The next request is read only after
        # that turn, so a client that sends one after its answer sees this one counted.
        asyncio.get_running_loop().call_soon(self._record_safely, ctx)

    def _record_safely(self, ctx: Any) -> None:
        try:
            self.record(ctx)
        except Exception:  # observability must never fail a request
            logging.getLogger("unigate.observability").exception("recording request %s failed", ctx.request_id)

    def record(self, ctx: Any) -> None:
        if self.metrics is not None:
            self.metrics.finished(ctx)
        deployment = ctx.trace.deployment
        usage = ctx.usage
        model, deployment_id, provider, _ = self.labels(
            ctx.model,
            deployment.id if deployment is not None else NONE,
            deployment.provider if deployment is not None else NONE,
            NONE,
        )
        self.series.record(
            (model, deployment_id, provider, ctx.principal.key_id),
            error=ctx.status == "error",
            cost=ctx.cost,
            input_tokens=(usage.get("prompt_tokens") or 0) if usage else 0,
            output_tokens=(usage.get("completion_tokens") or 0) if usage else 0,
            latency_ms=ctx.latency_ms,
            ttft_ms=ctx.trace.ttft_ms,
        )
        if self.logs is not None:
            self.logs.emit(request_fields(ctx, prompt=ctx.extras.get(PROMPT_KEY)))
        if self.tracer is not None:
            self.tracer.finish(ctx)
