"""``GET /metrics``: the Prometheus exposition of the observability hook's registry (admin-only
unless ``observability.metrics_public``). Present when metrics are on."""

from __future__ import annotations

from unigate.context import Principal
from unigate.server.auth import require_admin
from unigate.server.http import Request, Response
from unigate.server.routes import Routes
from unigate.server.services import Services

PROMETHEUS_CONTENT_TYPE = b"text/plain; version=0.0.4; charset=utf-8"


def register(routes: Routes, services: Services) -> None:
    metrics = services.observability.metrics if services.observability is not None else None
    if metrics is None:
        return

    def render() -> Response:
        return Response(metrics.render(), 200, [(b"content-type", PROMETHEUS_CONTENT_TYPE)])

    async def public_metrics(request: Request) -> Response:
        return render()

    async def private_metrics(request: Request, principal: Principal) -> Response:
        require_admin(principal)
        return render()

    if services.config.observability.metrics_public:
        routes.route("GET", "/metrics", public_metrics, public=True)
    else:
        routes.route("GET", "/metrics", private_metrics)
