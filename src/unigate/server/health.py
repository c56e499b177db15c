"""Liveness and readiness probes (no authentication: load balancers call them).

``/health/ready`` answers everyone with the status alone; the per-deployment details (model
names, providers, circuit states) go only to an admin (the master key, or the anonymous
loopback admin), and cover the configured models, never client-chosen dynamic names."""

from __future__ import annotations

from typing import Any

from unigate.errors import GatewayError
from unigate.server.auth import Authenticator
from unigate.server.http import Request, Response, json_response
from unigate.server.routes import Routes
from unigate.server.services import Services


def register(routes: Routes, services: Services) -> None:
    groups = services.gateway.groups
    health = services.gateway.health
    readiness = services.readiness
    authenticator = services.authenticator

    async def live(request: Request) -> Response:
        return json_response({"status": "ok"})

    async def ready(request: Request) -> Response:
        deployments: list[dict[str, Any]] = []
        for name in groups.listed():
            group = groups[name]
            for deployment in group.deployments:
                entry = {
                    "model": group.name,
                    "deployment": deployment.id,
                    "provider": deployment.provider,
                    "state": health.state(deployment.id),
                }
                entry.update(health.describe(deployment.id))
                deployments.append(entry)
        ok = readiness.ready and (not deployments or any(d["state"] != "failing" for d in deployments))
        body: dict[str, Any] = {"status": "ready" if ok else "not_ready"}
        if await _is_admin(authenticator, request):
            body["deployments"] = deployments
        return json_response(body, status=200 if ok else 503)

    routes.route("GET", "/health/live", live, public=True)
    routes.route("GET", "/health/ready", ready, public=True)
    routes.route("GET", "/health", live, public=True)


async def _is_admin(authenticator: Authenticator, request: Request) -> bool:
    """Whether the caller may see details; a probe without credentials simply is not."""
    try:
        principal = await authenticator.authenticate(request)
    except GatewayError:
        return False
    return principal.is_admin
