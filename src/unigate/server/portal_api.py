"""The self-service surface: sign-up / sign-in (``/auth``), the portal's JSON API
(``/portal/api``) and the payment provider's webhook. Enabled by ``portal.enabled``.

Public (no session needed; every POST checks Origin and a CSRF token bound to a cookie):
GET  /auth/session               who is signed in, and the CSRF token for the next POST
POST /auth/register              {email, password, name?, invite?}
GET  /auth/verify?token=         the link from the verification mail (redirects to /ui)
POST /auth/login                 {email, password} → a new session cookie (the old one is ended)
POST /auth/logout
POST /auth/password/forgot       {email} → a reset link by mail (same answer whether or not it exists)
POST /auth/password/reset        {token, password}
GET  /auth/oidc/login            → the identity provider (authorization code + PKCE)
GET  /auth/oidc/callback         ← back from it: a session, then /ui
POST /payments/stripe/webhook    a signed Stripe event (credits a paid checkout once)

Signed in (session cookie + x-csrf-token on mutations, or the master key):
GET  /portal/api/me                          user, role, team, wallet
GET|POST /portal/api/keys, DELETE /portal/api/keys/{id}
GET  /portal/api/usage?group_by=model|day&since=&scope=me|team|all&user_id=
GET  /portal/api/credits                     balance and its history
POST /portal/api/checkout                    {amount} → {url} of the hosted checkout
GET  /portal/api/models                      the models I may use, with prices (markup included)
GET  /portal/api/team                        team admins: members, budgets and spend
GET  /portal/api/users, PATCH /portal/api/users/{id}, POST /portal/api/users/{id}/credit
POST /portal/api/invites                     {email, team_id?, team_role?}
PATCH /portal/api/teams/{id}                 admins: {models, max_keys_per_member}
GET  /portal/api/audit                       admins: the audit log
"""

from __future__ import annotations

import hmac
import secrets
from datetime import datetime
from typing import Any
from urllib.parse import quote

from unigate.accounts.actor import Actor, actor_of
from unigate.accounts.audit import entry_view
from unigate.accounts.models import iso
from unigate.accounts.payments import WebhookRejected
from unigate.accounts.portal import Portal, user_view
from unigate.accounts.sessions import (
    OIDC_COOKIE,
    PRE_SESSION_COOKIE,
    SESSION_COOKIE,
    Session,
    clear_cookie,
    cookie_name,
    read_cookies,
    set_cookie,
)
from unigate.accounts.store import GROUPS
from unigate.context import Principal
from unigate.errors import AuthError, BadRequest, GatewayError, NotFound
from unigate.server.http import Request, Response, json_response
from unigate.server.routes import Routes
from unigate.server.services import Services
from unigate.server.session_auth import (
    CSRF_HEADER,
    SessionAuthenticator,
    check_csrf,
    check_origin,
    session_cookie,
)
from unigate.server.validation import parse_json_object

NO_STORE = (b"cache-control", b"no-store")


def _body(request: Request) -> dict[str, Any]:
    """The JSON object body ({} when empty); only ``application/json`` is read, as on the admin
    API: a page on another site can send form or text bodies without asking, never JSON."""
    if not request.body:
        return {}
    return parse_json_object(request.body, request.header(b"content-type"))


def _ip(request: Request) -> str | None:
    client = request.scope.get("client")
    return str(client[0]) if client else None


def _since(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError as exc:
        raise BadRequest("'since' must be a unix time or an ISO 8601 date", param="since") from exc


def _redirect(location: str, headers: list[tuple[bytes, bytes]] | None = None) -> Response:
    return Response(b"", 303, [(b"location", location.encode()), NO_STORE, *(headers or ())])


def key_view(portal: Portal, row: Any) -> dict[str, Any]:
    """A self-service key as its owner sees it: never the secret or its hash; money with markup."""
    return {
        "id": row.id,
        "object": "key",
        "name": row.name,
        "key_prefix": row.prefix + "…",
        "user_id": row.user_id,
        "team_id": row.team_id,
        "models": row.allowed_models,
        "rpm": row.rpm,
        "tpm": row.tpm,
        "budget": portal.resale(row.budget_nusd),
        "budget_period": row.budget_period,
        "spent": portal.resale(row.spent_nusd),
        "expires_at": iso(row.expires_at),
        "revoked": row.revoked_at is not None,
        "created_at": iso(row.created_at),
    }


def register(routes: Routes, services: Services) -> None:
    portal = services.portal
    if portal is None:

        async def disabled(request: Request) -> Response:  # the dashboard asks before showing its sign-in
            return json_response({"enabled": False, "signed_in": False})

        routes.route("GET", "/auth/session", disabled, public=True)
        return
    authenticator = services.authenticator
    if not isinstance(authenticator, SessionAuthenticator):
        raise RuntimeError("the portal needs the session authenticator (see unigate.composition)")

    async def purge() -> None:  # after the accounts start-up has applied the migrations
        await portal.sessions.purge_expired()

    services.lifecycle.startup.append(purge)
    secure = portal.secure_cookies
    gateway = services.gateway

    def cookie(name: str, value: str, max_age: float | None) -> tuple[bytes, bytes]:
        return (b"set-cookie", set_cookie(name, value, secure=secure, max_age=max_age))

    def session_cookies(raw: str) -> list[tuple[bytes, bytes]]:
        return [
            cookie(SESSION_COOKIE, raw, portal.settings.session_ttl),
            (b"set-cookie", clear_cookie(PRE_SESSION_COOKIE, secure=secure)),
            NO_STORE,
        ]

    async def pre_session_guard(request: Request) -> Session | None:
        """CSRF for the forms used before (or without) a session: the token must match the
        pre-session cookie's, or the session's when there is one."""
        check_origin(request, portal.public_url)
        session = await authenticator.session_of(request)
        if session is not None:
            check_csrf(request, session.csrf_token)
            return session
        cookies = read_cookies(request.header(b"cookie"))
        expected = cookies.get(cookie_name(PRE_SESSION_COOKIE, secure))
        sent = request.header(CSRF_HEADER)
        if not expected or sent is None or not hmac.compare_digest(sent, expected.encode()):
            from unigate.server.session_auth import CsrfRejected

            raise CsrfRejected("Missing or wrong CSRF token (GET /auth/session gives one).")
        return None

    # -- /auth --------------------------------------------------------------------------------

    async def session_info(request: Request) -> Response:
        session = await authenticator.session_of(request)
        base = {
            "enabled": True,
            "registration": portal.settings.registration,
            "oidc": portal.settings.oidc.button_label if portal.settings.oidc else None,
            "password_reset": portal.mailer.enabled,
            "payments": portal.payments is not None,
        }
        if session is not None:
            actor = actor_of(Principal("user", metadata={"user": session.user}))
            me = await portal.me(actor)
            return json_response(
                {**base, "signed_in": True, "csrf_token": session.csrf_token, **me}, headers=[NO_STORE]
            )
        cookies = read_cookies(request.header(b"cookie"))
        token = cookies.get(cookie_name(PRE_SESSION_COOKIE, secure))
        headers = [NO_STORE]
        if not token or len(token) > 100:
            token = secrets.token_urlsafe(32)
            headers.append(cookie(PRE_SESSION_COOKIE, token, 86400))
        return json_response({**base, "signed_in": False, "csrf_token": token}, headers=headers)

    async def register(request: Request) -> Response:
        await pre_session_guard(request)
        result = await portal.signin.register(_body(request), _ip(request))
        return json_response(result, status=201, headers=[NO_STORE])

    async def verify(request: Request) -> Response:
        token = request.query.get("token") or ""
        ok = bool(token) and len(token) < 200 and await portal.signin.verify_email(token, _ip(request))
        return _redirect(f"/ui#/signin?verified={1 if ok else 0}")

    async def login(request: Request) -> Response:
        await pre_session_guard(request)
        # whatever session id this browser holds (valid or planted) is ended, never promoted
        user, raw, csrf = await portal.signin.login(_body(request), _ip(request), session_cookie(request, secure))
        return json_response(
            {"signed_in": True, "csrf_token": csrf, "user": user_view(user)}, headers=session_cookies(raw)
        )

    async def logout(request: Request) -> Response:
        session = await pre_session_guard(request)
        if session is not None:
            await portal.signin.logout(
                session.raw, actor_of(Principal("user", metadata={"user": session.user})), _ip(request)
            )
        return json_response(
            {"signed_in": False}, headers=[(b"set-cookie", clear_cookie(SESSION_COOKIE, secure=secure)), NO_STORE]
        )

    async def forgot(request: Request) -> Response:
        await pre_session_guard(request)
        await portal.signin.forgot_password(_body(request), _ip(request))
        return json_response({"sent": True}, status=202)

    async def reset(request: Request) -> Response:
        await pre_session_guard(request)
        await portal.signin.reset_password(_body(request), _ip(request))
        return json_response({"reset": True})

    async def oidc_login(request: Request) -> Response:
        url, state = await portal.signin.sso_start()
        return _redirect(url, [cookie(OIDC_COOKIE, state, 600)])

    async def oidc_callback(request: Request) -> Response:
        query = request.query
        cookies = read_cookies(request.header(b"cookie"))
        bound = cookies.get(cookie_name(OIDC_COOKIE, secure)) or ""
        state, code = query.get("state") or "", query.get("code") or ""
        clear = (b"set-cookie", clear_cookie(OIDC_COOKIE, secure=secure))
        if query.get("error") or not code or not state or not hmac.compare_digest(state, bound):
            reason = query.get("error") or "the sign-in was not started in this browser"
            return _redirect(f"/ui#/signin?error={quote(reason[:200])}", [clear])
        try:
            _, raw, _ = await portal.signin.sso_finish(code, state, _ip(request), session_cookie(request, secure))
        except GatewayError as exc:
            return _redirect(f"/ui#/signin?error={quote(exc.message[:200])}", [clear])
        return _redirect("/ui#/mykeys", [clear, *session_cookies(raw)])

    async def stripe_webhook(request: Request) -> Response:
        if portal.payments is None:
            raise NotFound("Top-ups are not configured on this gateway (portal.payments).")
        signature = request.header(b"stripe-signature")
        try:
            paid = portal.payments.parse_webhook(
                request.body, signature.decode("latin-1") if signature is not None else None
            )
        except WebhookRejected as exc:
            raise BadRequest(f"Webhook rejected: {exc}", code="invalid_signature") from exc
        if paid is None:
            return json_response({"received": True, "credited": False})
        credited = await portal.apply_payment(paid, _ip(request))
        return json_response({"received": True, "credited": credited})

    # -- /portal/api ----------------------------------------------------------------------------

    async def me(request: Request, principal: Principal) -> Response:
        return json_response(await portal.me(actor_of(principal)), headers=[NO_STORE])

    async def keys(request: Request, principal: Principal) -> Response:
        actor = actor_of(principal)
        if request.method == "POST":
            secret, row = await portal.create_key(actor, _body(request), _ip(request))
            return json_response({**key_view(portal, row), "key": secret}, status=201, headers=[NO_STORE])
        rows = await portal.keys_of(actor, request.query.get("user_id"))
        return json_response({"object": "list", "data": [key_view(portal, row) for row in rows]})

    async def key_item(request: Request, principal: Principal) -> Response:
        key_id = request.path_params["rest"]
        if not key_id or "/" in key_id:
            raise NotFound(f"Unknown endpoint: {request.method} {request.path}", code="unknown_url")
        row = await portal.revoke_key(actor_of(principal), key_id, _ip(request))
        return json_response(key_view(portal, row))

    async def usage(request: Request, principal: Principal) -> Response:
        actor = actor_of(principal)
        query = request.query
        filters = await portal.usage_scope(actor, query.get("scope") or "me", query.get("user_id"))
        filters["since"] = _since(query.get("since"))
        for name in ("model", "key_id"):
            if query.get(name):
                filters[name] = query[name]
        group_by = query.get("group_by") or None
        if group_by is not None and group_by not in GROUPS:
            raise BadRequest(f"'group_by' must be one of {', '.join(GROUPS)}", param="group_by")
        try:
            limit = min(1000, max(1, int(query.get("limit") or 100)))
        except ValueError as exc:
            raise BadRequest("'limit' must be an integer", param="limit") from exc
        data, totals = await portal.store.usage(filters, group_by, limit)
        for item in (*data, totals):
            item["cost"] = portal.resale(int(item.pop("cost_nusd") or 0))
            for hidden in ("deployment", "provider", "error_class"):  # how the gateway served it is the operator's
                if not actor.admin:
                    item.pop(hidden, None)
        return json_response({"object": "list", "group_by": group_by, "data": data, "total": totals})

    async def credits(request: Request, principal: Principal) -> Response:
        actor = actor_of(principal)
        user_id = request.query.get("user_id")
        target = await portal.visible_user(actor, user_id) if user_id else actor.user
        if target is None:
            raise AuthError("Sign in as a user to see a wallet.", code="user_required")
        history = [
            {
                "ts": iso(row.ts),
                "kind": row.kind,
                "amount": portal.resale(row.amount_nusd),
                "paid": None if row.paid_cents is None else row.paid_cents / 100,
                "currency": row.currency,
                "note": row.note,
            }
            for row in await portal.users.credit_history(target.id)
        ]
        return json_response({"wallet": await portal.wallet(target), "history": history}, headers=[NO_STORE])

    async def checkout(request: Request, principal: Principal) -> Response:
        return json_response(await portal.start_checkout(actor_of(principal), _body(request), _ip(request)), status=201)

    async def models(request: Request, principal: Principal) -> Response:
        actor = actor_of(principal)
        team = await portal.store.team(actor.team_id) if actor.team_id else None
        granted = set(team.allowed_models) if team is not None and team.allowed_models is not None else None
        out = []
        for model in gateway.list_models():
            if granted is not None and model["id"] not in granted:
                continue
            pricing = model.get("pricing")
            price = None
            if pricing:
                price = {
                    "input_per_mtok": round(pricing["input_per_mtok"] * portal.markup, 6),
                    "output_per_mtok": round(pricing["output_per_mtok"] * portal.markup, 6),
                }
            out.append({"id": model["id"], "pricing": price, "context_window": model.get("context_window")})
        return json_response({"object": "list", "markup": portal.settings.markup, "data": out})

    async def team(request: Request, principal: Principal) -> Response:
        return json_response(await portal.team_overview(actor_of(principal)))

    async def users(request: Request, principal: Principal) -> Response:
        rows = await portal.list_users(actor_of(principal))
        return json_response({"object": "list", "data": [user_view(row) for row in rows]})

    async def user_item(request: Request, principal: Principal) -> Response:
        actor = actor_of(principal)
        user_id, _, action = request.path_params["rest"].partition("/")
        if action == "credit" and request.method == "POST":
            await portal.grant_credit(actor, user_id, _body(request), _ip(request))
            target = await portal.users.user(user_id)
            return json_response({**user_view(target), "wallet": await portal.wallet(target)})
        if action or request.method != "PATCH":
            raise NotFound(f"Unknown endpoint: {request.method} {request.path}", code="unknown_url")
        return json_response(user_view(await portal.update_user(actor, user_id, _body(request), _ip(request))))

    async def invites(request: Request, principal: Principal) -> Response:
        return json_response(await portal.invite(actor_of(principal), _body(request), _ip(request)), status=201)

    async def team_item(request: Request, principal: Principal) -> Response:
        team_id = request.path_params["rest"]
        row = await portal.update_team_policy(actor_of(principal), team_id, _body(request), _ip(request))
        return json_response(
            {"id": row.id, "models": row.allowed_models, "max_keys_per_member": row.max_keys_per_member}
        )

    async def audit(request: Request, principal: Principal) -> Response:
        actor: Actor = actor_of(principal)
        if not actor.admin:
            from unigate.errors import PermissionDenied

            raise PermissionDenied("Only admins read the audit log.", code="admin_required")
        query = request.query
        try:
            limit = min(1000, max(1, int(query.get("limit") or 200)))
        except ValueError as exc:
            raise BadRequest("'limit' must be an integer", param="limit") from exc
        rows = await portal.audit.entries(
            actor=query.get("actor") or None,
            action=query.get("action") or None,
            target=query.get("target") or None,
            since=_since(query.get("since")),
            limit=limit,
        )
        return json_response({"object": "list", "data": [entry_view(row) for row in rows]})

    routes.route("GET", "/auth/session", session_info, public=True)
    routes.route("POST", "/auth/register", register, public=True)
    routes.route("GET", "/auth/verify", verify, public=True)
    routes.route("POST", "/auth/login", login, public=True)
    routes.route("POST", "/auth/logout", logout, public=True)
    routes.route("POST", "/auth/password/forgot", forgot, public=True)
    routes.route("POST", "/auth/password/reset", reset, public=True)
    routes.route("GET", "/auth/oidc/login", oidc_login, public=True)
    routes.route("GET", "/auth/oidc/callback", oidc_callback, public=True)
    routes.route("POST", "/payments/stripe/webhook", stripe_webhook, public=True)
    routes.route("GET", "/portal/api/me", me)
    for method in ("GET", "POST"):
        routes.route(method, "/portal/api/keys", keys)
    routes.route("DELETE", "/portal/api/keys/*", key_item)
    routes.route("GET", "/portal/api/usage", usage)
    routes.route("GET", "/portal/api/credits", credits)
    routes.route("POST", "/portal/api/checkout", checkout)
    routes.route("GET", "/portal/api/models", models)
    routes.route("GET", "/portal/api/team", team)
    routes.route("GET", "/portal/api/users", users)
    for method in ("PATCH", "POST"):
        routes.route(method, "/portal/api/users/*", user_item)
    routes.route("POST", "/portal/api/invites", invites)
    routes.route("PATCH", "/portal/api/teams/*", team_item)
    routes.route("GET", "/portal/api/audit", audit)
