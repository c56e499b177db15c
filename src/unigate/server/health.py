"""Liveness and readiness probes (no authentication: load balancers call them).

``/health/ready`` answers everyone with the status alone; the per-deployment details (model
names, providers, circuit states) go only to an admin (the master key, or the anonymous
loopback admin), and cover the configured models, never client-chosen dynamic names."""

from __future__ import annotations

from typing import Any

from unigate.errors import GatewayError
from unigate.server.app import App
from unigate.server.http import Request, Response, json_response


def install(app: App) -> None:
    gateway = app.gateway

    async def live(request: Request) -> Response:
        return json_response({"status": "ok"})

    async def ready(request: Request) -> Response:
        deployments: list[dict[str, Any]] = []
        health = getattr(gateway, "health", None)
        for group in gateway.groups.values():
            if group.name not in gateway.configured_models:
                continue
            for deployment in group.deployments:
                state = health.state(deployment.id) if health is not None else "healthy"
                entry = {
                    "model": group.name,
                    "deployment": deployment.id,
                    "provider": deployment.provider,
                    "state": state,
                }
                describe = getattr(health, "describe", None)
                if describe is not None:
                    entry.update(describe(deployment.id))
                deployments.append(entry)
        ok = app.ready and (not deployments or any(d["state"] != "failing" for d in deployments))
        body: dict[str, Any] = {"status": "ready" if ok else "not_ready"}
        if await _is_admin(app, request):
            body["deployments"] = deployments
        return json_response(body, status=200 if ok else 503)

    app.route("GET", "/health/live", live, public=True)
    app.route("GET", "/health/ready", ready, public=True)
    app.route("GET", "/health", live, public=True)


async def _is_admin(app: App, request: Request) -> bool:
    """Whether the caller may see details; a probe without credentials simply is not."""
    try:
        principal = await app.authenticator.authenticate(request)
    except GatewayError:
        return False
    return principal.is_admin
