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

import contextlib
from datetime import datetime
from typing import Any

from unigate.accounts.audit import AuditLog, entry_view
from unigate.accounts.install import AccountsRuntime, runtime_of
from unigate.accounts.models import PERIODS, hash_secret, iso, new_id, new_secret, to_nano, to_usd
from unigate.errors import AuthError, BadRequest, NotFound
from unigate.gateway import Principal
from unigate.server.app import App
from unigate.server.auth import require_admin
from unigate.server.http import Request, Response, json_response
from unigate.server.validation import parse_json_object

_LIMITS = ("rpm", "tpm", "max_concurrency")
_KEY_FIELDS = {"name", "team_id", "owner", "tags", "models", "credit", "budget", "budget_period", *_LIMITS}
_KEY_FIELDS |= {"expires_at", "enabled", "metadata"}
_TEAM_FIELDS = {"name", "credit", "budget", "budget_period", "enabled", "metadata", *_LIMITS}
# Bounds that keep every stored value inside its column (BigInteger nano-USD, Integer limits,
# String(200) names) and every stored time printable: refused with a 400 rather than stored
# and failing later, on every listing.
MAX_USD = 1_000_000_000  # 1e18 nano-USD, well inside a 64-bit column even after top-ups
MAX_LIMIT = 1_000_000_000
MAX_NAME = 200
MAX_TIMESTAMP = 253_402_300_799  # 9999-12-31T23:59:59Z


def _body(request: Request) -> dict[str, Any]:
    """The JSON object body ({} when empty). Only ``application/json`` is read: a web page can
    send ``text/plain`` or form bodies across origins without asking, never JSON."""
    if not request.body:
        return {}
    return parse_json_object(request.body, request.header(b"content-type"))


def _timestamp(value: Any, name: str) -> float | None:
    if value is None:
        return None
    seconds: float | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str):
        try:
            seconds = float(value)  # query strings carry unix times as text
        except ValueError:
            with contextlib.suppress(ValueError, OverflowError, OSError):
                seconds = datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    if seconds is None or seconds != seconds:  # NaN
        raise BadRequest(f"'{name}' must be a unix time or an ISO 8601 date", param=name)
    if not 0 <= seconds <= MAX_TIMESTAMP:
        hint = " (it looks like milliseconds: send seconds)" if MAX_TIMESTAMP < seconds < MAX_TIMESTAMP * 1000 else ""
        raise BadRequest(f"'{name}' must be a unix time in seconds between 1970 and 9999{hint}", param=name)
    return seconds


def _money(value: Any, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= MAX_USD:
        raise BadRequest(f"'{name}' must be an amount in USD from 0 to {MAX_USD:,}", param=name)
    return to_nano(float(value))


def _positive(value: Any, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_LIMIT:
        raise BadRequest(f"'{name}' must be a positive integer (at most {MAX_LIMIT:,})", param=name)
    return value


def _topup_amount(body: dict[str, Any], row: Any) -> int:
    """A positive top-up in USD that keeps the total credit within :data:`MAX_USD`."""
    amount = body.get("amount")
    if isinstance(amount, bool) or not isinstance(amount, int | float) or not 0 < amount <= MAX_USD:
        raise BadRequest(f"'amount' must be a positive amount in USD (at most {MAX_USD:,})", param="amount")
    nano = to_nano(float(amount))
    if (row.credit_nusd or 0) + nano > to_nano(MAX_USD):
        raise BadRequest(f"'amount' would take the credit above {MAX_USD:,} USD", param="amount")
    return nano


def parse_account_fields(data: dict[str, Any], allowed: set[str]) -> dict[str, Any]:
    """Validate API/CLI input (USD amounts, limits, …) into database column values."""
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise BadRequest(f"Unknown field(s): {', '.join(unknown)}", param=unknown[0])
    values: dict[str, Any] = {}
    for name, value in data.items():
        if name in ("name", "owner", "team_id"):
            longest = 40 if name == "team_id" else MAX_NAME
            if value is not None and (not isinstance(value, str) or not value.strip() or len(value) > longest):
                raise BadRequest(f"'{name}' must be a non-empty string of at most {longest} characters", param=name)
            values[name] = value
        elif name in ("tags", "models"):
            if value is not None and (
                not isinstance(value, list) or not all(isinstance(v, str) and len(v) <= MAX_NAME for v in value)
            ):
                raise BadRequest(f"'{name}' must be a list of strings (each at most {MAX_NAME})", param=name)
            values["allowed_models" if name == "models" else name] = value
        elif name == "credit":
            values["credit_nusd"] = _money(value, name)
        elif name == "budget":
            values["budget_nusd"] = _money(value, name)
        elif name == "budget_period":
            if value is not None and value not in PERIODS:
                raise BadRequest(f"'budget_period' must be one of {', '.join(PERIODS)}", param=name)
            values[name] = value
        elif name in _LIMITS:
            values[name] = _positive(value, name)
        elif name == "expires_at":
            values[name] = _timestamp(value, name)
        elif name == "enabled":
            if not isinstance(value, bool):
                raise BadRequest("'enabled' must be true or false", param=name)
            values[name] = value
        elif name == "metadata":
            if value is not None and not isinstance(value, dict):
                raise BadRequest("'metadata' must be an object", param=name)
            values[name] = value
    return values


def _limits_view(row: Any) -> dict[str, Any]:
    return {
        "credit": to_usd(row.credit_nusd),
        "spent": to_usd(row.spent_nusd),
        "budget": to_usd(row.budget_nusd),
        "budget_period": row.budget_period,
        "rpm": row.rpm,
        "tpm": row.tpm,
        "max_concurrency": row.max_concurrency,
    }


def key_view(row: Any) -> dict[str, Any]:
    """A key as the API shows it: never the secret or its hash."""
    return {
        "id": row.id,
        "object": "key",
        "name": row.name,
        "key_prefix": row.prefix + "…",
        "team_id": row.team_id,
        "owner": row.owner,
        "tags": row.tags or [],
        "models": row.allowed_models,
        **_limits_view(row),
        "expires_at": iso(row.expires_at),
        "enabled": row.enabled,
        "revoked": row.revoked_at is not None,
        "revoked_at": iso(row.revoked_at),
        "metadata": row.metadata or {},
        "created_at": iso(row.created_at),
    }


def team_view(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "object": "team",
        "name": row.name,
        **_limits_view(row),
        "enabled": row.enabled,
        "metadata": row.metadata or {},
        "created_at": iso(row.created_at),
    }


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


def install(app: App) -> None:
    def runtime() -> AccountsRuntime:
        found = runtime_of(app)
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
        app.route(method, "/admin/keys", keys_collection)
        app.route(method, "/admin/teams", teams_collection)
    for method in ("GET", "PATCH", "DELETE", "POST"):
        app.route(method, "/admin/keys/*", key_item)
        app.route(method, "/admin/teams/*", team_item)

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

    app.route("GET", "/admin/audit", audit_log)
    app.route("GET", "/admin/usage", usage)
    app.route("POST", "/admin/usage/flush", flush)
    app.route("GET", "/v1/key/info", key_info)
    app.route("GET", "/key/info", key_info)
