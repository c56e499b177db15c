"""Who is acting in the self-service portal, and the audit record of what they did.

Roles: ``admin`` (the whole gateway, like the master key), and within a team ``admin`` (manages
the team's members and splits its budget) or ``member`` (their own keys, usage and credit).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from unigate.accounts.audit import AuditLog
from unigate.context import Principal
from unigate.errors import PermissionDenied


@dataclass(frozen=True, slots=True)
class Actor:
    """Who is acting: the master key (automation) or a signed-in user."""

    id: str  # user id, or "master"
    email: str | None
    admin: bool
    team_id: str | None
    team_admin: bool
    user: Any = None  # the user's row (None for the master key)

    @property
    def user_id(self) -> str:
        if self.user is None:
            raise PermissionDenied("This needs a signed-in user, not the master key.", code="user_required")
        return str(self.user.id)


def actor_of(principal: Principal) -> Actor:
    user = principal.metadata.get("user")
    if user is not None:
        return Actor(
            user.id,
            user.email,
            user.role == "admin",
            user.team_id,
            user.team_role == "admin" and bool(user.team_id),
            user,
        )
    if principal.is_admin:
        return Actor("master", None, True, None, False)
    raise PermissionDenied("The portal is for signed-in users; a virtual key cannot use it.", code="session_required")


async def audit_action(audit: AuditLog, actor: Actor | None, action: str, ip: str | None, **fields: Any) -> None:
    """One audit row for ``actor`` (None: someone not signed in)."""
    await audit.record(
        actor.id if actor else "anonymous", action, actor_email=actor.email if actor else None, ip=ip, **fields
    )
