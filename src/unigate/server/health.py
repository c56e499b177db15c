"""Liveness and readiness probes (no authentication: load balancers call them)."""

from __future__ import annotations

from typing import Any

from unigate.server.http import Request, Response, json_response
from unigate.server.routes import Routes
from unigate.server.services import Services


def register(routes: Routes, services: Services) -> None:
    gateway = services.gateway
    health = gateway.health
    readiness = services.readiness

    async def live(request: Request) -> Response:
        return json_response({"status": "ok"})

    async def ready(request: Request) -> Response:
        deployments: list[dict[str, Any]] = []
        for group in gateway.groups.values():
            for deployment in group.deployments:
                state = health.state(deployment.id)
                entry = {
                    "model": group.name,
                    "deployment": deployment.id,
                    "provider": deployment.provider,
                    "state": state,
                }
                entry.update(health.describe(deployment.id))
                deployments.append(entry)
        ok = readiness.ready and (not deployments or any(d["state"] != "failing" for d in deployments))
        body = {"status": "ready" if ok else "not_ready", "deployments": deployments}
        return json_response(body, status=200 if ok else 503)

    routes.route("GET", "/health/live", live, public=True)
    routes.route("GET", "/health/ready", ready, public=True)
    routes.route("GET", "/health", live, public=True)
