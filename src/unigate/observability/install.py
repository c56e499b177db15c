"""Wire observability into the server: the request hook, ``GET /metrics``, log setup."""

from __future__ import annotations

from typing import Any

from unigate.observability.hook import ObservabilityHook
from unigate.observability.logs import LogSetup
from unigate.server.app import App
from unigate.server.auth import require_admin
from unigate.server.http import Request, Response

PROMETHEUS_CONTENT_TYPE = b"text/plain; version=0.0.4; charset=utf-8"


def install(app: App) -> None:
    config = app.config.observability
    hook = ObservabilityHook(app.gateway, config)
    app.gateway.add_hook(hook)
    app.observability = hook  # type: ignore[attr-defined]  # the dashboard reads the time series

    setups: list[LogSetup] = []

    async def start_logs() -> None:
        setup = LogSetup(fmt=config.log_format, level=config.log_level)
        setups.append(setup)
        hook.logs = setup if config.log_requests else None

    async def stop_logs() -> None:
        hook.logs = None
        while setups:
            setups.pop().close()  # drains queued request lines

    app.on_startup.append(start_logs)
    app.on_shutdown.append(stop_logs)

    metrics = hook.metrics
    if metrics is None:
        return

    def render() -> Response:
        return Response(metrics.render(), 200, [(b"content-type", PROMETHEUS_CONTENT_TYPE)])

    async def public_metrics(request: Request) -> Response:
        return render()

    async def private_metrics(request: Request, principal: Any) -> Response:
        require_admin(principal)
        return render()

    if config.metrics_public:
        app.route("GET", "/metrics", public_metrics, public=True)
    else:
        app.route("GET", "/metrics", private_metrics)
