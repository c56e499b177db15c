"""The self-service records on both databases (SQLite and PostgreSQL, migrations applied):
crediting is idempotent on its reference even when deliveries race, a one-time token is used
once, failed sign-ins lock an account, and the audit table refuses UPDATE and DELETE."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from tests.accounts.conftest import PG_ADMIN_DSN
from unigate.accounts.audit import AuditLog
from unigate.accounts.db import upgrade
from unigate.accounts.users import UserStore


@pytest.fixture(params=["sqlite", "postgresql"])
async def engine(request, tmp_path) -> AsyncIterator[AsyncEngine]:
    if request.param == "sqlite":
        created = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'users.db'}")
        await upgrade(created)
        yield created
        await created.dispose()
        return
    name = f"unigate_users_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(PG_ADMIN_DSN)
    await admin.execute(f'CREATE DATABASE "{name}"')
    created = create_async_engine(f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}", pool_size=12)
    try:
        await upgrade(created)
        yield created
    finally:
        await created.dispose()
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def _user(store: UserStore, email: str = "ada@example.test") -> str:
    user_id = f"user_{uuid.uuid4().hex[:8]}"
    assert await store.insert_user(
        {"id": user_id, "email": email, "role": "member", "team_role": "member", "email_verified": True,
         "disabled": False, "failed_logins": 0, "credit_nusd": 0}
    )  # fmt: skip
    return user_id


async def test_a_payment_is_credited_once_when_deliveries_race(engine):
    store = UserStore(engine)
    user_id = await _user(store)
    results = await asyncio.gather(
        *(store.add_credit(user_id, 10_000_000_000, "payment", reference="checkout:cs_1") for _ in range(10))
    )
    assert sorted(results) == [False] * 9 + [True]
    user = await store.user(user_id)
    assert user.credit_nusd == 10_000_000_000
    assert [row.reference for row in await store.credit_history(user_id)] == ["checkout:cs_1"]
    # grants without a reference are separate rows, each credited
    assert await store.add_credit(user_id, 1, "grant") and await store.add_credit(user_id, 1, "grant")
    assert (await store.user(user_id)).credit_nusd == 10_000_000_002
    # crediting nobody changes nothing
    assert not await store.add_credit("user_missing", 5, "grant", reference="x")
    assert len(await store.credit_history("user_missing")) == 0


async def test_a_one_time_token_is_used_once(engine):
    store = UserStore(engine)
    user_id = await _user(store)
    raw = await store.issue_token("reset", 60, user_id=user_id, email="ada@example.test")
    assert await store.consume_token("verify", raw) is None  # another purpose's token is no use
    used = await asyncio.gather(*(store.consume_token("reset", raw) for _ in range(8)))
    assert sum(row is not None for row in used) == 1
    assert await store.peek_token("reset", raw) is None
    expired = await store.issue_token("reset", -1, user_id=user_id)
    assert await store.consume_token("reset", expired) is None


async def test_failed_sign_ins_lock_the_account(engine):
    store = UserStore(engine)
    user_id = await _user(store)
    assert [await store.record_failure(user_id, 3, 600) is not None for _ in range(3)] == [False, False, True]
    user = await store.user(user_id)
    assert user.locked_until is not None and user.failed_logins == 0
    await store.record_success(user_id)
    assert (await store.user(user_id)).locked_until is None


async def test_the_audit_log_is_append_only_in_the_database(engine):
    log = AuditLog(engine)
    await log.record("master", "key.create", target="key_1", detail={"name": "ci"})
    for statement in ("UPDATE unigate_audit SET action = 'forged'", "DELETE FROM unigate_audit"):
        with pytest.raises((IntegrityError, DBAPIError), match="append-only"):
            async with engine.begin() as conn:
                await conn.execute(text(statement))
    entries = await log.entries()
    assert [(e.actor, e.action, e.target) for e in entries] == [("master", "key.create", "key_1")]
