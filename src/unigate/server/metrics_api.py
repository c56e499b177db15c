"""``GET /metrics``: the Prometheus exposition of the observability hook's registry: the master
key (or the anonymous loopback admin) or ``observability.metrics_token``, unless
``observability.metrics_public``. Present when metrics are on."""

from __future__ import annotations

import hmac

from unigate.server.auth import bearer_token, require_admin
from unigate.server.http import Request, Response
from unigate.server.routes import Routes
from unigate.server.services import Services

PROMETHEUS_CONTENT_TYPE = b"text/plain; version=0.0.4; charset=utf-8"


def register(routes: Routes, services: Services) -> None:
    metrics = services.observability.metrics if services.observability is not None else None
    if metrics is None:
        return
    config = services.config.observability
    authenticator = services.authenticator
    scraper = config.metrics_token.encode() if config.metrics_token else None

    async def serve_metrics(request: Request) -> Response:
        # private by default: the master key (or the anonymous loopback admin), or the scrape token
        if not config.metrics_public:
            token = bearer_token(request)
            if scraper is None or token is None or not hmac.compare_digest(token.encode(), scraper):
                require_admin(await authenticator.authenticate(request))
        return Response(metrics.render(), 200, [(b"content-type", PROMETHEUS_CONTENT_TYPE)])

    routes.route("GET", "/metrics", serve_metrics, public=True)
