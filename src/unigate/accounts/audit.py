"""The audit log: one append-only row per admin or account action (sign-in, key created or revoked,
role change, credit grant, top-up, …). Rows are only ever inserted; the database refuses UPDATE
and DELETE on the table (triggers in migration 0002). Secrets never go into ``detail``.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from sqlalchemy import Row, select
from sqlalchemy.ext.asyncio import AsyncEngine

from unigate.accounts.user_schema import audit
from unigate.context import Principal

log = logging.getLogger("unigate.audit")


def actor_of(principal: Principal) -> tuple[str, str | None]:
    """(actor id, email) of who acts: a signed-in user, the master key, or the keyless local admin."""
    user = principal.metadata.get("user")
    if user is not None:
        return str(user.id), str(user.email)
    if principal.kind == "key":
        return str(principal.key_id), None
    return principal.kind, None


def entry_view(row: Row[Any]) -> dict[str, Any]:
    from unigate.accounts.models import iso

    return {
        "id": row.id,
        "ts": iso(row.ts),
        "actor": row.actor,
        "actor_email": row.actor_email,
        "action": row.action,
        "target": row.target,
        "detail": row.detail,
        "ip": row.ip,
        "ok": row.ok,
    }


class AuditLog:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def record(
        self,
        actor: str,
        action: str,
        *,
        actor_email: str | None = None,
        target: str | None = None,
        detail: dict[str, Any] | None = None,
        ip: str | None = None,
        ok: bool = True,
    ) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                audit.insert().values(
                    ts=time.time(),
                    actor=actor,
                    actor_email=actor_email,
                    action=action,
                    target=target,
                    detail=detail,
                    ip=ip,
                    ok=ok,
                )
            )
        log.info("audit %s by %s on %s", action, actor, target)

    async def by(self, principal: Principal, action: str, **fields: Any) -> None:
        actor, email = actor_of(principal)
        await self.record(actor, action, actor_email=email, **fields)

    async def entries(
        self,
        *,
        actor: str | None = None,
        action: str | None = None,
        target: str | None = None,
        since: float | None = None,
        limit: int = 200,
    ) -> list[Row[Any]]:
        query = select(audit).order_by(audit.c.id.desc()).limit(limit)
        if actor is not None:
            query = query.where(audit.c.actor == actor)
        if action is not None:
            query = query.where(audit.c.action == action)
        if target is not None:
            query = query.where(audit.c.target == target)
        if since is not None:
            query = query.where(audit.c.ts >= since)
        async with self.engine.connect() as conn:
            return list((await conn.execute(query)).all())
