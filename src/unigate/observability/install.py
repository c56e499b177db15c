"""Wire observability into the server: the request hook, ``GET /metrics``, log setup."""

from __future__ import annotations

import hmac

from unigate.observability.hook import ObservabilityHook
from unigate.observability.logs import LogSetup
from unigate.server.app import App
from unigate.server.auth import bearer_token, require_admin
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

    scraper = config.metrics_token.encode() if config.metrics_token else None

    async def serve_metrics(request: Request) -> Response:
        # private by default: the master key (or the anonymous loopback admin), or the scrape token
        if not config.metrics_public:
            token = bearer_token(request)
            if scraper is None or token is None or not hmac.compare_digest(token.encode(), scraper):
                require_admin(await app.authenticator.authenticate(request))
        return Response(metrics.render(), 200, [(b"content-type", PROMETHEUS_CONTENT_TYPE)])

    app.route("GET", "/metrics", serve_metrics, public=True)
