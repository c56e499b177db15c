"""The admin surface: keys, teams, top-ups and usage (master key only), and a key's own view.

POST   /admin/keys                 create (the secret is in this response only)
GET    /admin/keys                 list (?team_id=, ?include_revoked=true)
GET    /admin/keys/{id}            one key with its live balance
PATCH  /admin/keys/{id}            change name, limits, models, expiry, enabled, …
DELETE /admin/keys/{id}            revoke
POST   /admin/keys/{id}/topup      {"amount": USD} added to the key's credit
POST   /admin/teams, GET /admin/teams, GET|PATCH|DELETE /admin/teams/{id}, POST …/{id}/topup
GET    /admin/usage                ledger rows or ?group_by=key|team|model|provider|deployment|day|status
                                   filters: key_id, team_id, model, provider, status, since, until
                                   (a virtual key may call it: it sees its own usage only)
POST   /admin/usage/flush          write queued ledger records now
GET    /admin/audit                the audit log (?actor= ?action= ?target= ?since= ?limit=); every change
                                   made through this API is in it
GET    /v1/key/info                the calling key's own settings and balance
"""

from __future__ import annotations

from typing import Any

from unigate.accounts.audit import AuditLog, entry_view
from unigate.accounts.models import hash_secret, new_id, new_secret, to_usd
from unigate.accounts.runtime import AccountsRuntime
from unigate.accounts.views import KEY_FIELDS as _KEY_FIELDS
from unigate.accounts.views import TEAM_FIELDS as _TEAM_FIELDS
from unigate.accounts.views import key_view, parse_account_fields, team_view
from unigate.accounts.views import parse_timestamp as _timestamp
from unigate.accounts.views import topup_amount as _topup_amount
from unigate.context import Principal
from unigate.errors import AuthError, BadRequest, NotFound
from unigate.server.auth import require_admin
from unigate.server.http import Request, Response, json_response
from unigate.server.routes import Routes
from unigate.server.services import Services
from unigate.server.validation import parse_json_object


def _body(request: Request) -> dict[str, Any]:
    """The JSON object body ({} when empty). Only ``application/json`` is read: a web page can
    send ``text/plain`` or form bodies across origins without asking, never JSON."""
    if not request.body:
        return {}
    return parse_json_object(request.body, request.header(b"content-type"))


async def create_key(runtime: AccountsRuntime, data: dict[str, Any]) -> tuple[str, Any]:
    """Create a key from validated-or-not input; returns (secret, row). Shared with the CLI."""
    values = parse_account_fields(data, _KEY_FIELDS)
    if not values.get("name"):
        raise BadRequest("'name' is required", param="name")
    store = runtime.store
    if values.get("team_id") is not None and await store.team(values["team_id"]) is None:
        raise NotFound(f"No team with id '{values['team_id']}'", param="team_id")
    secret = new_secret()
    key_id = new_id("key")
    await store.insert_key({"id": key_id, "secret_hash": hash_secret(secret), "prefix": secret[:10], **values})
    await runtime.service.changed()
    return secret, await store.key(key_id)


def register(routes: Routes, services: Services) -> None:
    accounts = services.accounts

    def runtime() -> AccountsRuntime:
        found = accounts
        if found is None:
            raise NotFound("Accounts are disabled on this gateway (accounts.enabled: false).")
        return found

    async def with_balance(view: dict[str, Any], kind: str, row: Any) -> dict[str, Any]:
        from unigate.accounts.models import limits_from_row

        balance = await runtime().service.balance(limits_from_row(kind, row))
        view["balance"] = balance
        if "credit" in balance:
            # One spent figure: the live counter (charged at settlement). The ledger's total trails
            # it by the rows still waiting for the next flush, so it gets a name of its own.
            view["spent_recorded"] = view["spent"]
            view["spent"] = balance["credit"]["spent"]
        return view

    # -- keys ------------------------------------------------------------------------------

    async def audit(principal: Principal, request: Request, action: str, target: str, **detail: Any) -> None:
        """Every change made here is an audit record (docs/self-service.md)."""
        client = request.scope.get("client")
        await AuditLog(runtime().store.engine).by(
            principal, action, target=target, detail=detail or None, ip=str(client[0]) if client else None
        )

    async def keys_collection(request: Request, principal: Principal) -> Response:
        require_admin(principal)
        rt = runtime()
        if request.method == "POST":
            secret, row = await create_key(rt, _body(request))
            await audit(principal, request, "key.create", row.id, name=row.name, team_id=row.team_id)
            return json_response({**key_view(row), "key": secret}, status=201)
        query = request.query
        rows = await rt.store.list_keys(query.get("team_id"), query.get("include_revoked") in ("1", "true"))
        return json_response({"object": "list", "data": [key_view(row) for row in rows]})

    async def key_item(request: Request, principal: Principal) -> Response:
        require_admin(principal)
        rt = runtime()
        key_id, _, action = request.path_params["rest"].partition("/")
        row = await rt.store.key(key_id)
        if row is None:
            raise NotFound(f"No key with id '{key_id}'")
        if action == "topup" and request.method == "POST":
            amount = _topup_amount(_body(request), row)
            await rt.store.topup_key(key_id, amount)
            await audit(principal, request, "key.topup", key_id, amount=to_usd(amount))
        elif action:
            raise NotFound(f"Unknown endpoint: {request.method} {request.path}", code="unknown_url")
        elif request.method == "PATCH":
            values = parse_account_fields(_body(request), _KEY_FIELDS)
            if values.get("team_id") is not None and await rt.store.team(values["team_id"]) is None:
                raise NotFound(f"No team with id '{values['team_id']}'", param="team_id")
            await rt.store.update_key(key_id, values)
            await audit(principal, request, "key.update", key_id, fields=sorted(values))
        elif request.method == "DELETE":
            import time

            await rt.store.update_key(key_id, {"revoked_at": time.time(), "enabled": False})
            await audit(principal, request, "key.revoke", key_id)
        if request.method != "GET":
            await rt.service.changed()
            row = await rt.store.key(key_id)
        return json_response(await with_balance(key_view(row), "key", row))

    # -- teams -----------------------------------------------------------------------------

    async def teams_collection(request: Request, principal: Principal) -> Response:
        require_admin(principal)
        rt = runtime()
        if request.method == "POST":
            values = parse_account_fields(_body(request), _TEAM_FIELDS)
            if not values.get("name"):
                raise BadRequest("'name' is required", param="name")
            team_id = new_id("team")
            await rt.store.insert_team({"id": team_id, **values})
            await audit(principal, request, "team.create", team_id, name=values["name"])
            return json_response(team_view(await rt.store.team(team_id)), status=201)
        return json_response({"object": "list", "data": [team_view(row) for row in await rt.store.list_teams()]})

    async def team_item(request: Request, principal: Principal) -> Response:
        require_admin(principal)
        rt = runtime()
        team_id, _, action = request.path_params["rest"].partition("/")
        row = await rt.store.team(team_id)
        if row is None:
            raise NotFound(f"No team with id '{team_id}'")
        if action == "topup" and request.method == "POST":
            amount = _topup_amount(_body(request), row)
            await rt.store.topup_team(team_id, amount)
            await audit(principal, request, "team.topup", team_id, amount=to_usd(amount))
        elif action:
            raise NotFound(f"Unknown endpoint: {request.method} {request.path}", code="unknown_url")
        elif request.method == "PATCH":
            values = parse_account_fields(_body(request), _TEAM_FIELDS)
            await rt.store.update_team(team_id, values)
            await audit(principal, request, "team.update", team_id, fields=sorted(values))
        elif request.method == "DELETE":
            await rt.store.update_team(team_id, {"enabled": False})
            await audit(principal, request, "team.disable", team_id)
        if request.method != "GET":
            await rt.service.changed()
            row = await rt.store.team(team_id)
        return json_response(await with_balance(team_view(row), "team", row))

    # -- usage -----------------------------------------------------------------------------

    async def usage(request: Request, principal: Principal) -> Response:
        rt = runtime()
        query = request.query
        filters: dict[str, Any] = {
            name: query.get(name) for name in ("key_id", "team_id", "model", "provider", "status", "deployment")
        }
        filters["since"] = _timestamp(query.get("since"), "since")
        filters["until"] = _timestamp(query.get("until"), "until")
        if principal.kind == "key":
            filters["key_id"] = principal.key_id  # a key sees its own usage, whatever it asks for
        else:
            require_admin(principal)
        group_by = query.get("group_by") or None
        from unigate.accounts.store import GROUPS

        if group_by is not None and group_by not in GROUPS:
            raise BadRequest(f"'group_by' must be one of {', '.join(GROUPS)}", param="group_by")
        try:
            limit = min(10_000, max(1, int(query.get("limit") or 100)))
        except ValueError as exc:
            raise BadRequest("'limit' must be an integer", param="limit") from exc
        data, totals = await rt.store.usage(filters, group_by, limit)
        for item in (*data, totals):
            item["cost"] = to_usd(int(item.pop("cost_nusd") or 0))
        return json_response({"object": "list", "group_by": group_by, "data": data, "total": totals})

    async def flush(request: Request, principal: Principal) -> Response:
        require_admin(principal)
        rt = runtime()
        await rt.flusher.flush()
        return json_response({"written": rt.flusher.written})

    async def key_info(request: Request, principal: Principal) -> Response:
        if principal.kind != "key" or principal.key_id is None:
            raise AuthError("This endpoint describes a virtual key: call it with one.", code="not_a_virtual_key")
        row = await runtime().store.key(principal.key_id)
        if row is None:
            raise AuthError("Incorrect API key provided.")
        return json_response(await with_balance(key_view(row), "key", row))

    for method in ("GET", "POST"):
        routes.route(method, "/admin/keys", keys_collection)
        routes.route(method, "/admin/teams", teams_collection)
    for method in ("GET", "PATCH", "DELETE", "POST"):
        routes.route(method, "/admin/keys/*", key_item)
        routes.route(method, "/admin/teams/*", team_item)

    async def audit_log(request: Request, principal: Principal) -> Response:
        require_admin(principal)
        query = request.query
        try:
            limit = min(1000, max(1, int(query.get("limit") or 200)))
        except ValueError as exc:
            raise BadRequest("'limit' must be an integer", param="limit") from exc
        rows = await AuditLog(runtime().store.engine).entries(
            actor=query.get("actor") or None,
            action=query.get("action") or None,
            target=query.get("target") or None,
            since=_timestamp(query.get("since"), "since"),
            limit=limit,
        )
        return json_response({"object": "list", "data": [entry_view(row) for row in rows]})

    routes.route("GET", "/admin/audit", audit_log)
    routes.route("GET", "/admin/usage", usage)
    routes.route("POST", "/admin/usage/flush", flush)
    routes.route("GET", "/v1/key/info", key_info)
    routes.route("GET", "/key/info", key_info)
