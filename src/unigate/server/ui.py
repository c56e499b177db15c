"""The web dashboard at ``/ui``: static assets from the package and a small JSON API for charts.

GET /ui                      the single-page app (public; it signs in with a key in the browser)
GET /ui/static/{file}        its JS/CSS (public, from ``unigate/ui/``; no build step, no CDN)
GET /ui/api/whoami           who the key is (master/anonymous → admin view, virtual key → own view)
GET /ui/api/overview         ?range=5m|15m|1h|6h|24h: requests/s, errors, p50/p95 latency and TTFT
GET /ui/api/models           ?range=…: per deployment: traffic share, latency, TTFT, errors, health

Chart data come from the in-memory time series of this process (the observability hook);
spend comes from the ledger through the admin API, which the page calls directly. A virtual key
only ever sees its own requests.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from unigate.context import Principal
from unigate.errors import NotFound
from unigate.server.http import Request, Response, json_response
from unigate.server.routes import Routes
from unigate.server.services import Services

ASSETS = Path(__file__).resolve().parent.parent / "ui"
CONTENT_TYPES = {
    ".html": b"text/html; charset=utf-8",
    ".js": b"text/javascript; charset=utf-8",
    ".css": b"text/css; charset=utf-8",
    ".svg": b"image/svg+xml",
}
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (
        b"content-security-policy",
        b"default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        b"connect-src 'self'; frame-ancestors 'none'",
    ),
]


def load_assets(folder: Path = ASSETS) -> dict[str, tuple[bytes, bytes]]:
    """Every asset file name → (content type, bytes), read once at startup."""
    assets: dict[str, tuple[bytes, bytes]] = {}
    for path in sorted(folder.iterdir()):
        content_type = CONTENT_TYPES.get(path.suffix)
        if content_type is not None and path.is_file():
            assets[path.name] = (content_type, path.read_bytes())
    return assets


def _scope(principal: Principal) -> str | None:
    """The key id a caller is limited to (None: everything)."""
    return None if principal.is_admin else (principal.key_id or "\0")


def register(routes: Routes, services: Services) -> None:
    assets = load_assets()
    gateway = services.gateway
    observability = services.observability
    accounts_enabled = services.accounts is not None

    def series() -> Any:
        hook = observability
        if hook is None:
            raise NotFound("The dashboard needs the observability package (unigate.observability).")
        return hook.series

    def asset(name: str) -> Response:
        found = assets.get(name)
        if found is None:
            raise NotFound(f"No such dashboard file: {name}")
        content_type, body = found
        return Response(
            body, 200, [(b"content-type", content_type), (b"cache-control", b"no-cache"), *SECURITY_HEADERS]
        )

    async def index(request: Request) -> Response:
        return asset("index.html")

    async def static(request: Request) -> Response:
        return asset(request.path_params["rest"])

    async def whoami(request: Request, principal: Principal) -> Response:
        return json_response(
            {
                "kind": principal.kind,
                "admin": principal.is_admin,
                "key_id": principal.key_id,
                "key_name": principal.key_name,
                "team_id": principal.team_id,
                "accounts": accounts_enabled,
            }
        )

    async def overview(request: Request, principal: Principal) -> Response:
        ts = series()
        data = ts.overview(request.query.get("range", "1h"), key_id=_scope(principal))
        midnight = float(int(time.time()) // 86400 * 86400)  # UTC, like the ledger's days
        data["spend_today_process"] = ts.spend_since(midnight, key_id=_scope(principal))
        data["midnight"] = midnight
        return json_response(data)

    async def models(request: Request, principal: Principal) -> Response:
        range_name = request.query.get("range", "1h")
        rows = {(r["model"], r["deployment"]): r for r in series().by_deployment(range_name, key_id=_scope(principal))}
        health = gateway.health
        out: list[dict[str, Any]] = []
        for group in list(gateway.groups.values()):
            if not principal.may_use(group.name):
                continue
            for deployment in group.deployments:
                try:
                    state = str(health.state(deployment.id))
                except Exception:
                    state = "unknown"
                row = rows.pop((group.name, deployment.id), None) or {"requests": 0, "share": 0.0}
                out.append(
                    {
                        **row,
                        "model": group.name,
                        "deployment": deployment.id,
                        "provider": deployment.provider,
                        "upstream_model": deployment.model,
                        "state": state,
                    }
                )
        for row in rows.values():  # traffic to names no longer in the groups (failed lookups, …)
            out.append({**row, "state": "n/a"})
        return json_response({"range": range_name, "data": out})

    routes.route("GET", "/ui", index, public=True)
    routes.route("GET", "/ui/index.html", index, public=True)
    routes.route("GET", "/ui/static/*", static, public=True)
    routes.route("GET", "/ui/api/whoami", whoami)
    routes.route("GET", "/ui/api/overview", overview)
    routes.route("GET", "/ui/api/models", models)
