"""Self-service accounts: what a signed-in person may do by role — keys, usage, credit and
top-ups, users and teams.

Roles: ``admin`` (the whole gateway, like the master key), and within a team ``admin`` (manages
the team's members and splits its budget) or ``member`` (their own keys, usage and credit).
Every check that decides who may touch what is here, in one place; sign-in itself (accounts,
sessions, single sign-on) is :mod:`unigate.accounts.signin`. The HTTP surface
(``server/portal_api.py``) only parses and formats. Every action is written to the audit log.
"""

from __future__ import annotations

import math
import time
from typing import Any

from unigate.accounts.actor import Actor, audit_action
from unigate.accounts.audit import AuditLog
from unigate.accounts.fields import (
    email_field,
    money_field,
    period_field,
    positive_int_field,
    reject_unknown,
    text_field,
)
from unigate.accounts.mailer import Mailer
from unigate.accounts.models import hash_secret, new_id, new_secret, period_bounds, to_usd
from unigate.accounts.payments import PaidCheckout, PaymentProvider, payment_provider
from unigate.accounts.service import AccountsService
from unigate.accounts.sessions import SessionStore
from unigate.accounts.signin import SignIn
from unigate.accounts.store import Store
from unigate.accounts.users import UserStore
from unigate.config import GatewayConfig, PortalConfig
from unigate.errors import BadRequest, GatewayError, NotFound, PermissionDenied

INVITE_TTL = 7 * 86400.0


class PaymentProviderError(GatewayError):
    status = 502
    default_code = "payment_provider_error"


class Portal:
    """What one gateway process holds for self-service (kept on ``app.portal``)."""

    def __init__(self, config: GatewayConfig, service: AccountsService, store: Store) -> None:
        self.settings: PortalConfig = config.portal
        self.config = config
        self.service = service
        self.store = store
        self.users = UserStore(store.engine)
        self.sessions = SessionStore(store.engine, self.settings.session_ttl)
        self.audit = AuditLog(store.engine)
        self.mailer = Mailer(self.settings.smtp)
        self.public_url = (self.settings.public_url or f"http://{config.server.host}:{config.server.port}").rstrip("/")
        self.secure_cookies = (
            self.settings.secure_cookies
            if self.settings.secure_cookies is not None
            else self.public_url.startswith("https://")
        )
        self.require_verified = (
            self.settings.require_verified_email
            if self.settings.require_verified_email is not None
            else self.mailer.enabled
        )
        self.markup = 1.0 + self.settings.markup
        self.payments: PaymentProvider | None = (
            payment_provider(self.settings.payments) if self.settings.payments else None
        )
        self.signin = SignIn(
            self.settings,
            service,
            store,
            self.users,
            self.sessions,
            self.audit,
            self.mailer,
            self.public_url,
            self.require_verified,
        )

    async def aclose(self) -> None:
        if self.payments is not None:
            await self.payments.aclose()

    def resale(self, nano: int | None) -> float | None:
        """A provider-cost amount as the user sees it (with the resale markup)."""
        return None if nano is None else round(nano * self.markup / 1e9, 9)

    # -- who am I ---------------------------------------------------------------------------

    async def wallet(self, user: Any) -> dict[str, Any]:
        """The user's credit (total, spent, remaining) and budget share, as the user sees money."""
        from unigate.accounts.models import Limits

        limits = Limits("user", user.id, user.email, user.credit_nusd, user.budget_nusd, user.budget_period)
        balance = await self.service.balance(limits)
        out: dict[str, Any] = {"markup": self.settings.markup}
        credit = balance.get("credit")
        if credit is not None:
            out["credit"] = {k: round(v * self.markup, 9) for k, v in credit.items()}
        else:
            out["credit"] = None
        budget = balance.get("budget")
        if budget is not None:
            out["budget"] = {
                **budget,
                **{k: round(budget[k] * self.markup, 9) for k in ("limit", "spent", "reserved", "remaining")},
            }
        return out

    async def me(self, actor: Actor) -> dict[str, Any]:
        user = actor.user
        team = await self.store.team(actor.team_id) if actor.team_id else None
        return {
            "user": user_view(user) if user is not None else None,
            "role": "admin" if actor.admin else ("team_admin" if actor.team_admin else "member"),
            "admin": actor.admin,
            "team_admin": actor.team_admin,
            "team": {"id": team.id, "name": team.name, "models": team.allowed_models} if team else None,
            "wallet": await self.wallet(user) if user is not None else None,
            "payments": self.payments is not None,
            "markup": self.settings.markup,
        }

    # -- keys -------------------------------------------------------------------------------

    async def _team_policy(self, team_id: str | None) -> Any:
        return await self.store.team(team_id) if team_id else None

    async def create_key(self, actor: Actor, data: dict[str, Any], ip: str | None) -> tuple[str, Any]:
        """A key for the signed-in user, inside what their team grants."""
        reject_unknown(data, {"name", "models", "rpm", "tpm", "budget", "budget_period", "expires_at"})
        user = actor.user
        if user is None:
            raise PermissionDenied("Keys for automation are made with the admin API (/admin/keys).")
        name = text_field(data, "name")
        team = await self._team_policy(user.team_id)
        values: dict[str, Any] = {"name": name, "team_id": user.team_id, "owner": user.email, "user_id": user.id}
        models = data.get("models")
        if models is not None:
            if not isinstance(models, list) or not models or not all(isinstance(m, str) and m for m in models):
                raise BadRequest("'models' must be a non-empty list of model names", param="models")
            values["allowed_models"] = sorted(set(models))
        if team is not None and team.allowed_models is not None:
            granted = set(team.allowed_models)
            asked = set(values.get("allowed_models") or granted)
            if not asked <= granted:
                raise PermissionDenied(
                    f"Your team does not grant: {', '.join(sorted(asked - granted))}.",
                    code="model_not_granted",
                    param="models",
                )
            values["allowed_models"] = sorted(asked)
        for limit in ("rpm", "tpm"):
            value = positive_int_field(data.get(limit), limit)
            ceiling = getattr(team, limit, None) if team is not None else None
            if value is not None and ceiling is not None and value > ceiling:
                raise PermissionDenied(f"'{limit}' may be at most {ceiling}, your team's limit.", param=limit)
            values[limit] = value
        values["budget_nusd"] = money_field(data.get("budget"), "budget")
        values["budget_period"] = period_field(data.get("budget_period"))
        if (values["budget_nusd"] is None) != (values["budget_period"] is None):
            raise BadRequest("'budget' and 'budget_period' go together", param="budget")
        expires = data.get("expires_at")
        if expires is not None and (isinstance(expires, bool) or not isinstance(expires, int | float)):
            raise BadRequest("'expires_at' must be a unix time", param="expires_at")
        values["expires_at"] = expires
        if team is not None and team.max_keys_per_member is not None:
            live = await self.users.user_keys(user.id, include_revoked=False)
            if len(live) >= team.max_keys_per_member:
                raise PermissionDenied(
                    f"Your team allows {team.max_keys_per_member} keys per member; revoke one first.",
                    code="too_many_keys",
                )
        secret = new_secret()
        key_id = new_id("key")
        await self.store.insert_key({"id": key_id, "secret_hash": hash_secret(secret), "prefix": secret[:10], **values})
        await self.service.changed()
        await audit_action(
            self.audit,
            actor,
            "key.create",
            ip,
            target=key_id,
            detail={"name": name, "models": values.get("allowed_models")},
        )
        return secret, await self.store.key(key_id)

    async def keys_of(self, actor: Actor, user_id: str | None = None) -> list[Any]:
        target = await self.visible_user(actor, user_id) if user_id else actor.user
        if target is None:
            raise PermissionDenied("Sign in as a user to list your keys.", code="user_required")
        return await self.users.user_keys(target.id)

    async def revoke_key(self, actor: Actor, key_id: str, ip: str | None) -> Any:
        row = await self.store.key(key_id)
        owner = await self.users.user(row.user_id) if row is not None and row.user_id else None
        allowed = row is not None and (
            actor.admin
            or (owner is not None and owner.id == actor.id)
            or (owner is not None and actor.team_admin and owner.team_id == actor.team_id)
        )
        if not allowed:
            raise NotFound(f"No key with id '{key_id}'")  # the same answer whether it exists or not
        await self.store.update_key(key_id, {"revoked_at": time.time(), "enabled": False})
        await self.service.changed()
        await audit_action(
            self.audit, actor, "key.revoke", ip, target=key_id, detail={"owner": owner.id if owner else None}
        )
        return await self.store.key(key_id)

    # -- usage ------------------------------------------------------------------------------

    async def usage_scope(self, actor: Actor, scope: str, user_id: str | None) -> dict[str, Any]:
        """Ledger filters for ``scope``: me | team | all (or one user, for those allowed)."""
        if user_id:
            target = await self.visible_user(actor, user_id)
            return {"key_ids": [k.id for k in await self.users.user_keys(target.id)]}
        if scope == "all":
            if not actor.admin:
                raise PermissionDenied("Only admins see everyone's usage.", code="admin_required")
            return {}
        if scope == "team":
            if not (actor.team_admin or actor.admin) or not actor.team_id:
                raise PermissionDenied("Only team admins see their team's usage.", code="team_admin_required")
            return {"team_id": actor.team_id}
        if scope != "me":
            raise BadRequest("'scope' must be one of me, team, all", param="scope")
        return {"key_ids": [k.id for k in await self.users.user_keys(actor.user_id)]}

    # -- credit -----------------------------------------------------------------------------

    async def grant_credit(self, actor: Actor, user_id: str, data: dict[str, Any], ip: str | None) -> None:
        reject_unknown(data, {"amount", "note"})
        if not actor.admin:
            raise PermissionDenied("Only admins grant credit.", code="admin_required")
        amount = money_field(data.get("amount"), "amount", positive=True)
        note = text_field(data, "note", required=False, limit=500)
        assert amount is not None
        if await self.users.user(user_id) is None:
            raise NotFound(f"No user with id '{user_id}'")
        await self.users.add_credit(user_id, amount, "grant", actor=actor.id, note=note)
        await self.service.changed()
        await audit_action(
            self.audit, actor, "credit.grant", ip, target=user_id, detail={"amount": to_usd(amount), "note": note}
        )

    async def start_checkout(self, actor: Actor, data: dict[str, Any], ip: str | None) -> dict[str, Any]:
        reject_unknown(data, {"amount"})
        if self.payments is None or self.settings.payments is None:
            raise NotFound("Top-ups are not configured on this gateway (portal.payments).")
        user = actor.user
        if user is None:
            raise PermissionDenied("Sign in as a user to top up.", code="user_required")
        amount = data.get("amount")
        limits = self.settings.payments
        if isinstance(amount, bool) or not isinstance(amount, int | float) or not math.isfinite(amount):
            raise BadRequest("'amount' (USD) is required", param="amount")
        if not limits.min_amount <= amount <= limits.max_amount:
            raise BadRequest(
                f"'amount' must be between {limits.min_amount} and {limits.max_amount} USD", param="amount"
            )
        cents = round(amount * 100)
        try:
            checkout = await self.payments.create_checkout(
                user_id=user.id,
                email=user.email,
                amount_cents=cents,
                success_url=self.public_url + "/ui#/credits?paid=1",
                cancel_url=self.public_url + "/ui#/credits",
            )
        except Exception as exc:
            raise PaymentProviderError(
                f"The payment provider could not start a checkout ({type(exc).__name__}). Try again later."
            ) from exc
        await self.users.insert_checkout(checkout.id, user.id, cents, limits.currency)
        await audit_action(self.audit, actor, "credit.checkout", ip, target=checkout.id, detail={"amount": cents / 100})
        return {"id": checkout.id, "url": checkout.url}

    async def apply_payment(self, paid: PaidCheckout, ip: str | None) -> bool:
        """Credit a completed checkout exactly once (idempotent on the provider's event id and on
        the checkout itself); the payment is a row of the credit ledger."""
        checkout = await self.users.checkout(paid.checkout_id)
        problem = None
        if checkout is None or checkout.user_id != paid.user_id:
            problem = "a checkout this gateway did not start"
        elif paid.amount_cents != checkout.amount_cents or paid.currency.lower() != checkout.currency:
            problem = "an amount that differs from the checkout's"
        if problem is not None:
            # answered 200 all the same: the event is genuine (signed), so the provider must not
            # retry it for days; it is simply not ours to credit, and the audit log says so
            await self.audit.record(
                "payments",
                "credit.topup_ignored",
                ip=ip,
                target=paid.checkout_id,
                ok=False,
                detail={"reason": problem, "event": paid.event_id, "user": paid.user_id},
            )
            return False
        credit = round(paid.amount_cents * 10_000_000 / self.markup)  # cents → nano-USD of provider cost
        first = await self.users.add_credit(
            paid.user_id,
            credit,
            "payment",
            reference=f"checkout:{paid.checkout_id}",
            actor="payments",
            note=f"{self.payments.name if self.payments else 'payment'} event {paid.event_id}",
            paid_cents=paid.amount_cents,
            currency=paid.currency.lower(),
        )
        if first:
            await self.users.mark_checkout_paid(paid.checkout_id)
            await self.service.changed()
            await self.audit.record(
                paid.user_id,
                "credit.topup",
                ip=ip,
                target=paid.checkout_id,
                detail={"paid": paid.amount_cents / 100, "credit": to_usd(credit), "event": paid.event_id},
            )
        return first

    # -- users, teams and roles -------------------------------------------------------------

    async def visible_user(self, actor: Actor, user_id: str) -> Any:
        """The user ``actor`` may manage: anyone for an admin, their team's members for a team
        admin, themselves otherwise — anything else is 'not found', whether it exists or not."""
        user = await self.users.user(user_id)
        if user is not None and (
            actor.admin or user.id == actor.id or (actor.team_admin and user.team_id == actor.team_id)
        ):
            return user
        raise NotFound(f"No user with id '{user_id}'")

    async def list_users(self, actor: Actor) -> list[Any]:
        if actor.admin:
            return await self.users.list_users()
        if actor.team_admin:
            return await self.users.list_users(team_id=actor.team_id)
        raise PermissionDenied("Only admins and team admins list users.", code="team_admin_required")

    async def update_user(self, actor: Actor, user_id: str, data: dict[str, Any], ip: str | None) -> Any:
        reject_unknown(data, {"role", "team_id", "team_role", "disabled", "budget", "budget_period", "name"})
        target = await self.visible_user(actor, user_id)
        if not (actor.admin or actor.team_admin):
            raise PermissionDenied("Only admins and team admins change users.", code="team_admin_required")
        admin_only = {"role", "team_id", "disabled"} & set(data)
        if data.get("team_id", "") is None and target.team_id == actor.team_id and actor.team_admin:
            admin_only.discard("team_id")  # a team admin may take a member out of their own team
        if admin_only and not actor.admin:
            raise PermissionDenied(
                f"Only admins change {', '.join(sorted(admin_only))}.",
                code="admin_required",
                param=sorted(admin_only)[0],
            )
        changes: dict[str, Any] = {}
        if "role" in data:
            if data["role"] not in ("admin", "member"):
                raise BadRequest("'role' must be admin or member", param="role")
            changes["role"] = data["role"]
        if "team_id" in data:
            team_id = data["team_id"]
            if team_id is not None and (not isinstance(team_id, str) or await self.store.team(team_id) is None):
                raise NotFound(f"No team with id '{team_id}'", param="team_id")
            changes["team_id"] = team_id
        if "team_role" in data:
            if data["team_role"] not in ("admin", "member"):
                raise BadRequest("'team_role' must be admin or member", param="team_role")
            changes["team_role"] = data["team_role"]
        if "disabled" in data:
            if not isinstance(data["disabled"], bool):
                raise BadRequest("'disabled' must be true or false", param="disabled")
            changes["disabled"] = data["disabled"]
        if "name" in data:
            changes["name"] = text_field(data, "name", required=False)
        if "budget" in data or "budget_period" in data:
            budget = money_field(data.get("budget"), "budget")
            period = period_field(data.get("budget_period", target.budget_period if budget is not None else None))
            if (budget is None) != (period is None):
                raise BadRequest("'budget' and 'budget_period' go together", param="budget")
            await self._check_budget_split(target, budget, period)
            changes |= {"budget_nusd": budget, "budget_period": period}
        if not changes:
            raise BadRequest("Nothing to change.")
        await self.users.update_user(target.id, changes)
        if changes.get("disabled"):
            await self.sessions.delete_for_user(target.id)
        await self.service.changed()
        shown = {k: (to_usd(v) if k == "budget_nusd" else v) for k, v in changes.items()}
        action = "user.role_change" if {"role", "team_role", "team_id"} & set(changes) else "user.update"
        await audit_action(self.audit, actor, action, ip, target=target.id, detail=shown)
        return await self.users.user(target.id)

    async def _check_budget_split(self, target: Any, budget: int | None, period: str | None) -> None:
        """A team's member budgets (of the team's period) add up to at most the team's budget."""
        if budget is None or not target.team_id:
            return
        team = await self.store.team(target.team_id)
        if team is None or team.budget_nusd is None:
            return
        if period != team.budget_period:
            raise BadRequest(f"Member budgets of this team are per {team.budget_period}.", param="budget_period")
        others = sum(
            int(u.budget_nusd or 0)
            for u in await self.users.list_users(team_id=team.id)
            if u.id != target.id and u.budget_period == team.budget_period
        )
        if others + budget > team.budget_nusd:
            raise BadRequest(
                f"The team's budget is ${to_usd(team.budget_nusd)} per {team.budget_period}; "
                f"${to_usd(team.budget_nusd - others)} is left to share.",
                code="budget_split_exceeded",
                param="budget",
            )

    async def update_team_policy(self, actor: Actor, team_id: str, data: dict[str, Any], ip: str | None) -> Any:
        reject_unknown(data, {"models", "max_keys_per_member"})
        if not actor.admin:
            raise PermissionDenied("Only admins set what a team grants.", code="admin_required")
        if await self.store.team(team_id) is None:
            raise NotFound(f"No team with id '{team_id}'")
        changes: dict[str, Any] = {}
        if "models" in data:
            models = data["models"]
            if models is not None and (not isinstance(models, list) or not all(isinstance(m, str) for m in models)):
                raise BadRequest("'models' must be a list of model names or null", param="models")
            changes["allowed_models"] = models
        if "max_keys_per_member" in data:
            changes["max_keys_per_member"] = positive_int_field(data["max_keys_per_member"], "max_keys_per_member")
        await self.store.update_team(team_id, changes)
        await self.service.changed()
        await audit_action(self.audit, actor, "team.policy", ip, target=team_id, detail=changes)
        return await self.store.team(team_id)

    async def invite(self, actor: Actor, data: dict[str, Any], ip: str | None) -> dict[str, Any]:
        reject_unknown(data, {"email", "team_id", "team_role"})
        email = email_field(data)
        team_id = data.get("team_id", actor.team_id if not actor.admin else None)
        team_role = data.get("team_role", "member")
        if team_role not in ("admin", "member"):
            raise BadRequest("'team_role' must be admin or member", param="team_role")
        if not actor.admin and (not actor.team_admin or team_id != actor.team_id):
            raise PermissionDenied("Team admins invite into their own team only.", code="team_admin_required")
        if team_id is not None and (not isinstance(team_id, str) or await self.store.team(team_id) is None):
            raise NotFound(f"No team with id '{team_id}'", param="team_id")
        token = await self.users.issue_token(
            "invite", INVITE_TTL, email=email, data={"team_id": team_id, "team_role": team_role}
        )
        link = f"{self.public_url}/ui#/signup?invite={token}&email={email}"
        await self.mailer.send(email, "You are invited to unigate", f"Create your account here:\n\n{link}\n")
        await audit_action(
            self.audit, actor, "user.invite", ip, target=email, detail={"team_id": team_id, "team_role": team_role}
        )
        return {"email": email, "team_id": team_id, "team_role": team_role, "link": link, "mailed": self.mailer.enabled}

    async def team_overview(self, actor: Actor) -> dict[str, Any]:
        if not actor.team_id or not (actor.team_admin or actor.admin):
            raise PermissionDenied("Only team admins manage a team.", code="team_admin_required")
        team = await self.store.team(actor.team_id)
        if team is None:
            raise NotFound("Your team no longer exists.")
        members = []
        since = period_bounds(team.budget_period, time.time())[0] if team.budget_period else None
        for user in await self.users.list_users(team_id=team.id):
            members.append({**user_view(user), "spent": self.resale(await self.users.spent(user.id, since=since))})
        return {
            "id": team.id,
            "name": team.name,
            "budget": self.resale(team.budget_nusd),
            "budget_period": team.budget_period,
            "credit": self.resale(team.credit_nusd),
            "models": team.allowed_models,
            "max_keys_per_member": team.max_keys_per_member,
            "members": members,
        }


def user_view(user: Any) -> dict[str, Any]:
    """A user as the API shows it: never the password hash or the SSO subject."""
    from unigate.accounts.models import iso

    return {
        "id": user.id,
        "object": "user",
        "email": user.email,
        "name": user.name,
        "role": user.role,
        "team_id": user.team_id,
        "team_role": user.team_role,
        "email_verified": user.email_verified,
        "disabled": user.disabled,
        "sso": user.oidc_subject is not None,
        "budget": to_usd(user.budget_nusd),
        "budget_period": user.budget_period,
        "created_at": iso(user.created_at),
        "last_login_at": iso(user.last_login_at),
    }
