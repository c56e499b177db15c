"""Self-service sign-in: registration, email verification, sign-in with lockout, password reset
and single sign-on. Every step is written to the audit log."""

from __future__ import annotations

import math
import time
from typing import Any

from unigate.accounts.actor import Actor, audit_action
from unigate.accounts.audit import AuditLog
from unigate.accounts.fields import email_field, reject_unknown, text_field
from unigate.accounts.mailer import Mailer
from unigate.accounts.models import new_id, to_nano
from unigate.accounts.oidc import Identity, OidcClient
from unigate.accounts.passwords import MAX_PASSWORD_BYTES, hash_password, needs_rehash, verify_password
from unigate.accounts.service import AccountsService
from unigate.accounts.sessions import SessionStore
from unigate.accounts.store import Store
from unigate.accounts.users import UserStore
from unigate.config import PortalConfig
from unigate.errors import AuthError, BadRequest, GatewayError, NotFound, PermissionDenied, RateLimited
from unigate.state import WindowCheck

VERIFY_TTL = 2 * 86400.0
RESET_TTL = 3600.0
OIDC_TTL = 600.0
BAD_CREDENTIALS = "Incorrect email or password."


class AccountLocked(RateLimited):
    default_code = "account_locked"


class Conflict(GatewayError):
    status = 409
    error_type = "invalid_request_error"
    default_code = "conflict"


class SignIn:
    """How people get in: accounts, sessions and the links mailed to them."""

    def __init__(
        self,
        settings: PortalConfig,
        service: AccountsService,
        store: Store,
        users: UserStore,
        sessions: SessionStore,
        audit: AuditLog,
        mailer: Mailer,
        public_url: str,
        require_verified: bool,
    ) -> None:
        self.settings = settings
        self.service = service
        self.store = store
        self.users = users
        self.sessions = sessions
        self.audit = audit
        self.mailer = mailer
        self.public_url = public_url
        self.require_verified = require_verified
        self.oidc = OidcClient(settings.oidc, public_url + "/auth/oidc/callback") if settings.oidc else None

    async def _check_password(self, password: Any) -> str:
        minimum = self.settings.min_password_length
        if not isinstance(password, str) or len(password) < minimum:
            raise BadRequest(f"'password' must have at least {minimum} characters", param="password")
        if len(password.encode()) > MAX_PASSWORD_BYTES:
            raise BadRequest(f"'password' must be at most {MAX_PASSWORD_BYTES} bytes", param="password")
        return await hash_password(password)

    async def register(self, data: dict[str, Any], ip: str | None) -> dict[str, Any]:
        reject_unknown(data, {"email", "password", "name", "invite"})
        mode = self.settings.registration
        email = email_field(data)
        name = text_field(data, "name", required=False)
        invite = None
        if data.get("invite") is not None:
            raw = text_field(data, "invite", limit=200) or ""
            invite = await self.users.peek_token("invite", raw)
            if invite is None or invite.email != email:  # a wrong guess does not use up the invitation
                raise PermissionDenied("The invitation is not valid for this email address.", code="invalid_invite")
        elif mode != "open":
            raise PermissionDenied(
                "Registration is closed." if mode == "off" else "Registration needs an invitation.",
                code="registration_closed",
            )
        password_hash = await self._check_password(data.get("password"))
        if invite is not None and await self.users.consume_token("invite", raw) is None:
            raise PermissionDenied("The invitation was used meanwhile.", code="invalid_invite")
        team_id = (invite.data or {}).get("team_id") if invite else await self._team_id(self.settings.default_team)
        team_role = (invite.data or {}).get("team_role", "member") if invite else "member"
        verified = invite is not None or not self.require_verified  # an invitation mail proved the address
        user_id = await self._create_user(
            {
                "email": email,
                "name": name,
                "password_hash": password_hash,
                "role": "member",
                "team_id": team_id,
                "team_role": team_role,
                "email_verified": verified,
            },
            "An account with this email address exists. Sign in or reset its password.",
        )
        actor = Actor(user_id, email, False, team_id, False)
        await audit_action(
            self.audit, actor, "user.register", ip, target=user_id, detail={"invited": invite is not None}
        )
        if not verified:
            await self.send_verification(user_id, email)
        return {"id": user_id, "email": email, "verification_required": not verified}

    async def send_verification(self, user_id: str, email: str) -> None:
        token = await self.users.issue_token("verify", VERIFY_TTL, user_id=user_id, email=email)
        await self.mailer.send(
            email,
            "Confirm your email address",
            "Open this link to confirm your address and finish signing up:\n\n"
            f"{self.public_url}/auth/verify?token={token}\n\nThe link works once, for two days.",
        )

    async def verify_email(self, raw: str, ip: str | None) -> bool:
        token = await self.users.consume_token("verify", raw)
        if token is None or token.user_id is None:
            return False
        user = await self.users.user(token.user_id)
        if user is None or user.email != token.email:
            return False
        await self.users.update_user(user.id, {"email_verified": True})
        await audit_action(
            self.audit, Actor(user.id, user.email, False, None, False), "user.verify_email", ip, target=user.id
        )
        return True

    async def throttle(self, ip: str | None) -> None:
        """Sign-in attempts per client address in any 60 s (a sliding window shared by every replica)."""
        window = WindowCheck(f"portal:login:{ip or '-'}", self.settings.login.per_ip_per_minute, 60.0)
        admission = await self.service.state.admit(new_id("login"), 60.0, [window])
        if not admission.ok:
            raise RateLimited(
                "Too many sign-in attempts from this address. Wait a minute.",
                retry_after=math.ceil(admission.retry_after or 60),
            )

    async def login(self, data: dict[str, Any], ip: str | None, old_session: str | None) -> tuple[Any, str, str]:
        """(user, new session value, its CSRF token); the browser's previous session is ended."""
        reject_unknown(data, {"email", "password"})
        await self.throttle(ip)
        email = email_field(data)
        password = data.get("password")
        if not isinstance(password, str) or len(password.encode()) > MAX_PASSWORD_BYTES:
            raise BadRequest("'password' is required", param="password")
        user = await self.users.user_by_email(email)
        now = time.time()
        if user is not None and user.locked_until is not None and user.locked_until > now:
            await self.audit.record(user.id, "auth.login_locked", actor_email=email, ip=ip, ok=False)
            raise AccountLocked(
                "This account is locked after too many failed sign-ins. Try again later or reset the password.",
                retry_after=user.locked_until - now,
            )
        good = await verify_password(user.password_hash if user is not None else None, password)
        if user is None or not good or user.disabled:
            if user is not None:
                limits = self.settings.login
                locked = await self.users.record_failure(user.id, limits.max_failures, limits.lockout_seconds)
                await self.audit.record(
                    user.id, "auth.login_failed", actor_email=email, ip=ip, ok=False, detail={"locked": bool(locked)}
                )
            else:
                await self.audit.record("anonymous", "auth.login_failed", actor_email=email, ip=ip, ok=False)
            raise AuthError(BAD_CREDENTIALS, code="invalid_credentials")
        if not user.email_verified and self.require_verified:
            raise PermissionDenied(
                "Confirm your email address first: open the link we sent you.", code="email_not_verified"
            )
        if needs_rehash(user.password_hash):
            await self.users.update_user(user.id, {"password_hash": await hash_password(password)})
        return await self._start_session(user, ip, old_session, "password")

    async def _start_session(
        self, user: Any, ip: str | None, old_session: str | None, method: str
    ) -> tuple[Any, str, str]:
        await self.users.record_success(user.id)
        raw, csrf = await self.sessions.create(user.id, replaces=old_session)
        await self.audit.record(user.id, "auth.login", actor_email=user.email, ip=ip, detail={"method": method})
        return user, raw, csrf

    async def logout(self, session_raw: str, actor: Actor, ip: str | None) -> None:
        await self.sessions.delete(session_raw)
        await audit_action(self.audit, actor, "auth.logout", ip)

    async def forgot_password(self, data: dict[str, Any], ip: str | None) -> None:
        """Mail a reset link if the account exists; the answer never says whether it does."""
        reject_unknown(data, {"email"})
        await self.throttle(ip)
        email = email_field(data)
        user = await self.users.user_by_email(email)
        if user is None or user.disabled or not self.mailer.enabled:
            return
        token = await self.users.issue_token("reset", RESET_TTL, user_id=user.id, email=email)
        await self.mailer.send(
            email,
            "Reset your password",
            "Open this link to choose a new password:\n\n"
            f"{self.public_url}/ui#/reset?token={token}\n\nThe link works once, for one hour. "
            "If you did not ask for it, ignore this mail.",
        )
        await self.audit.record(user.id, "auth.password_reset_requested", actor_email=email, ip=ip, target=user.id)

    async def reset_password(self, data: dict[str, Any], ip: str | None) -> None:
        reject_unknown(data, {"token", "password"})
        raw = text_field(data, "token", limit=200) or ""
        password_hash = await self._check_password(data.get("password"))
        token = await self.users.consume_token("reset", raw)
        if token is None or token.user_id is None:
            raise BadRequest("The reset link is not valid (used, expired or mistyped).", code="invalid_token")
        await self.users.update_user(
            token.user_id,
            {"password_hash": password_hash, "failed_logins": 0, "locked_until": None, "email_verified": True},
        )
        await self.sessions.delete_for_user(token.user_id)  # a reset ends every session
        await self.audit.record(
            token.user_id, "auth.password_reset", actor_email=token.email, ip=ip, target=token.user_id
        )

    # -- single sign-on ----------------------------------------------------------------------

    async def sso_start(self) -> tuple[str, str]:
        """(authorization URL, state); the state's secrets are kept as a one-time token."""
        if self.oidc is None:
            raise NotFound("Single sign-on is not configured (portal.oidc).")
        url, secrets_ = await self.oidc.authorization()
        await self.users.issue_token("oidc", OIDC_TTL, raw=secrets_["state"], data=secrets_)
        return url, secrets_["state"]

    async def sso_finish(self, code: str, state: str, ip: str | None, old_session: str | None) -> tuple[Any, str, str]:
        if self.oidc is None:
            raise NotFound("Single sign-on is not configured (portal.oidc).")
        token = await self.users.consume_token("oidc", state)
        if token is None or not token.data:
            raise AuthError("The sign-in took too long or was started elsewhere. Try again.", code="sso_failed")
        identity = await self.oidc.identity(code, token.data["verifier"], token.data["nonce"])
        user = await self._sso_user(identity, ip)
        if user.disabled:
            raise AuthError("This account is disabled.", code="account_disabled")
        return await self._start_session(user, ip, old_session, "oidc")

    async def _sso_user(self, identity: Identity, ip: str | None) -> Any:
        assert self.oidc is not None
        team_ref, team_role, role = self.oidc.roles_for(identity.groups)
        team_id = await self._team_id(team_ref)
        user = await self.users.user_by_subject(identity.subject)
        if user is None and identity.email and identity.email_verified:
            user = await self.users.user_by_email(identity.email)  # an existing account signs in by SSO too
            if user is not None:
                await self.users.update_user(user.id, {"oidc_subject": identity.subject})
        if user is None:
            if not identity.email:
                raise AuthError("The identity provider did not share an email address.", code="sso_failed")
            user_id = await self._create_user(
                {
                    "email": identity.email,
                    "name": identity.name,
                    "password_hash": None,
                    "role": role,
                    "team_id": team_id or await self._team_id(self.settings.default_team),
                    "team_role": team_role or "member",
                    "email_verified": identity.email_verified,
                    "oidc_subject": identity.subject,
                },
                "An account with this email address exists; sign in with its password first.",
            )
            await self.audit.record(
                user_id,
                "user.register",
                actor_email=identity.email,
                ip=ip,
                target=user_id,
                detail={"method": "oidc", "groups": list(identity.groups)},
            )
        else:
            # the provider's groups are the source of truth for mapped teams and roles
            changes: dict[str, Any] = {}
            if team_id and (user.team_id != team_id or user.team_role != team_role):
                changes |= {"team_id": team_id, "team_role": team_role}
            if self.oidc.config.admin_groups and user.role != role:
                changes["role"] = role
            if changes:
                await self.users.update_user(user.id, changes)
                await self.audit.record(
                    "system", "user.role_change", target=user.id, ip=ip, detail={"source": "oidc", **changes}
                )
        found = await self.users.user_by_subject(identity.subject)
        assert found is not None
        await self.service.changed()
        return found

    async def _create_user(self, fields: dict[str, Any], exists: str) -> str:
        """A new enabled account with its sign-up credit; ``exists`` is the 409's message when the
        email address is taken."""
        user_id = new_id("user")
        signup = self.settings.signup_credit
        created = await self.users.insert_user(
            {
                "id": user_id,
                **fields,
                "disabled": False,
                "credit_nusd": None if signup is None else 0,
                "failed_logins": 0,
            }
        )
        if not created:
            raise Conflict(exists)
        if signup:
            await self.users.add_credit(user_id, to_nano(signup), "signup", actor="system", note="sign-up credit")
        return user_id

    async def _team_id(self, reference: str | None) -> str | None:
        """A team named in config by id or by name (names are known before the team exists)."""
        if reference is None:
            return None
        if await self.store.team(reference) is not None:
            return reference
        named = [team.id for team in await self.store.list_teams() if team.name == reference]
        return named[0] if named else None
