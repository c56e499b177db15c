"""Durable self-service records: users, one-time tokens, the credit ledger and checkouts.

A user's wallet is ``credit_nusd`` (total ever credited) against the spend of the user's keys in
the usage ledger; every credit change is a row of the credit ledger, written in the same
transaction as the wallet, and a row's unique ``reference`` (a payment event id) makes crediting
idempotent.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from typing import Any

from sqlalchemy import Row, and_, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from unigate.accounts.schema import keys, ledger
from unigate.accounts.user_schema import checkouts, credit_ledger, tokens, users


def token_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def normalize_email(email: str) -> str:
    return email.strip().lower()


class UserStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    # -- users -----------------------------------------------------------------------------

    async def insert_user(self, values: dict[str, Any]) -> bool:
        """False when the email (or single sign-on subject) is already taken."""
        now = time.time()
        try:
            async with self.engine.begin() as conn:
                await conn.execute(users.insert().values(created_at=now, updated_at=now, **values))
        except IntegrityError:
            return False
        return True

    async def user(self, user_id: str) -> Row[Any] | None:
        async with self.engine.connect() as conn:
            return (await conn.execute(select(users).where(users.c.id == user_id))).first()

    async def user_by_email(self, email: str) -> Row[Any] | None:
        async with self.engine.connect() as conn:
            query = select(users).where(users.c.email == normalize_email(email))
            return (await conn.execute(query)).first()

    async def user_by_subject(self, subject: str) -> Row[Any] | None:
        async with self.engine.connect() as conn:
            return (await conn.execute(select(users).where(users.c.oidc_subject == subject))).first()

    async def list_users(self, team_id: str | None = None) -> list[Row[Any]]:
        query = select(users).order_by(users.c.created_at)
        if team_id is not None:
            query = query.where(users.c.team_id == team_id)
        async with self.engine.connect() as conn:
            return list((await conn.execute(query)).all())

    async def update_user(self, user_id: str, values: dict[str, Any]) -> bool:
        async with self.engine.begin() as conn:
            result = await conn.execute(
                update(users).where(users.c.id == user_id).values(updated_at=time.time(), **values)
            )
            return bool(result.rowcount)

    async def count_users(self) -> int:
        async with self.engine.connect() as conn:
            return int((await conn.execute(select(func.count()).select_from(users))).scalar_one())

    async def record_failure(self, user_id: str, max_failures: int, lockout: float) -> float | None:
        """Count a failed sign-in (atomically); returns the lock's end when this one locks the account."""
        now = time.time()
        async with self.engine.begin() as conn:
            await conn.execute(
                update(users).where(users.c.id == user_id).values(failed_logins=users.c.failed_logins + 1)
            )
            failures = (await conn.execute(select(users.c.failed_logins).where(users.c.id == user_id))).scalar()
            if failures is not None and failures >= max_failures:
                await conn.execute(
                    update(users).where(users.c.id == user_id).values(failed_logins=0, locked_until=now + lockout)
                )
                return now + lockout
        return None

    async def record_success(self, user_id: str) -> None:
        await self.update_user(user_id, {"failed_logins": 0, "locked_until": None, "last_login_at": time.time()})

    # -- one-time tokens (email verification, password reset, invitations, SSO state) ------

    async def issue_token(
        self,
        purpose: str,
        ttl: float,
        *,
        user_id: str | None = None,
        email: str | None = None,
        data: dict[str, Any] | None = None,
        raw: str | None = None,
    ) -> str:
        raw = raw or secrets.token_urlsafe(32)
        now = time.time()
        async with self.engine.begin() as conn:
            await conn.execute(
                tokens.insert().values(
                    token_hash=token_hash(raw),
                    purpose=purpose,
                    user_id=user_id,
                    email=email,
                    data=data,
                    created_at=now,
                    expires_at=now + ttl,
                )
            )
        return raw

    async def peek_token(self, purpose: str, raw: str) -> Row[Any] | None:
        """The live (unused, unexpired) token's row, without using it."""
        query = select(tokens).where(
            and_(
                tokens.c.token_hash == token_hash(raw),
                tokens.c.purpose == purpose,
                tokens.c.used_at.is_(None),
                tokens.c.expires_at > time.time(),
            )
        )
        async with self.engine.connect() as conn:
            return (await conn.execute(query)).first()

    async def consume_token(self, purpose: str, raw: str) -> Row[Any] | None:
        """The token's row, marked used — once: a second use, an expired token or another
        purpose's token gives None."""
        digest = token_hash(raw)
        now = time.time()
        async with self.engine.begin() as conn:
            claimed = await conn.execute(
                update(tokens)
                .where(
                    and_(
                        tokens.c.token_hash == digest,
                        tokens.c.purpose == purpose,
                        tokens.c.used_at.is_(None),
                        tokens.c.expires_at > now,
                    )
                )
                .values(used_at=now)
            )
            if claimed.rowcount != 1:
                return None
            return (await conn.execute(select(tokens).where(tokens.c.token_hash == digest))).first()

    # -- credit ----------------------------------------------------------------------------

    async def add_credit(
        self,
        user_id: str,
        amount_nusd: int,
        kind: str,
        *,
        reference: str | None = None,
        actor: str | None = None,
        note: str | None = None,
        paid_cents: int | None = None,
        currency: str | None = None,
    ) -> bool:
        """Credit the wallet and write the credit-ledger row together; False (and nothing
        changes) when ``reference`` was credited before or the user does not exist."""
        now = time.time()
        try:
            async with self.engine.begin() as conn:
                await conn.execute(
                    credit_ledger.insert().values(
                        ts=now,
                        user_id=user_id,
                        kind=kind,
                        amount_nusd=amount_nusd,
                        paid_cents=paid_cents,
                        currency=currency,
                        reference=reference,
                        actor=actor,
                        note=note,
                    )
                )
                result = await conn.execute(
                    update(users)
                    .where(users.c.id == user_id)
                    .values(credit_nusd=func.coalesce(users.c.credit_nusd, 0) + amount_nusd, updated_at=now)
                )
                if result.rowcount != 1:
                    raise LookupError(user_id)
        except IntegrityError:
            return False
        except LookupError:
            return False
        return True

    async def credit_history(self, user_id: str, limit: int = 200) -> list[Row[Any]]:
        query = (
            select(credit_ledger)
            .where(credit_ledger.c.user_id == user_id)
            .order_by(credit_ledger.c.ts.desc(), credit_ledger.c.id.desc())
            .limit(limit)
        )
        async with self.engine.connect() as conn:
            return list((await conn.execute(query)).all())

    async def spent(self, user_id: str, since: float | None = None) -> int:
        """Spend of every key the user owns (from the usage ledger), in nano-USD."""
        owned = select(keys.c.id).where(keys.c.user_id == user_id).scalar_subquery()
        query = select(func.coalesce(func.sum(ledger.c.cost_nusd), 0)).where(ledger.c.key_id.in_(owned))
        if since is not None:
            query = query.where(ledger.c.ts >= since)
        async with self.engine.connect() as conn:
            return int((await conn.execute(query)).scalar_one())

    # -- keys of a user ----------------------------------------------------------------------

    async def user_keys(self, user_id: str, include_revoked: bool = True) -> list[Row[Any]]:
        query = select(keys).where(keys.c.user_id == user_id).order_by(keys.c.created_at)
        if not include_revoked:
            query = query.where(keys.c.revoked_at.is_(None))
        async with self.engine.connect() as conn:
            return list((await conn.execute(query)).all())

    # -- checkouts -------------------------------------------------------------------------

    async def insert_checkout(self, checkout_id: str, user_id: str, amount_cents: int, currency: str) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                checkouts.insert().values(
                    id=checkout_id,
                    user_id=user_id,
                    amount_cents=amount_cents,
                    currency=currency,
                    status="open",
                    created_at=time.time(),
                )
            )

    async def checkout(self, checkout_id: str) -> Row[Any] | None:
        async with self.engine.connect() as conn:
            return (await conn.execute(select(checkouts).where(checkouts.c.id == checkout_id))).first()

    async def mark_checkout_paid(self, checkout_id: str) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(update(checkouts).where(checkouts.c.id == checkout_id).values(status="paid"))
