"""Durable records: keys, teams and the usage ledger (SQLAlchemy Core over SQLite or PostgreSQL).

Nothing here is on the per-request path except ``key_by_hash`` on a key-cache miss and the
batched ``insert_usage`` of the ledger flusher.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import Row, and_, bindparam, case, func, select, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from unigate.accounts.schema import keys, ledger, teams, usage_quarantine

USAGE_COLUMNS = [c.name for c in ledger.columns]
GROUPS = {"key": ledger.c.key_id, "team": ledger.c.team_id, "model": ledger.c.model}
GROUPS |= {"provider": ledger.c.provider, "day": ledger.c.day, "status": ledger.c.status}
GROUPS |= {"deployment": ledger.c.deployment}
_SQLITE_INSERT = (
    f"INSERT INTO {ledger.name} ({', '.join(USAGE_COLUMNS)}) VALUES ({', '.join('?' * len(USAGE_COLUMNS))})"
)


class Store:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def aclose(self) -> None:
        await self.engine.dispose()

    # -- keys ------------------------------------------------------------------------------

    async def insert_key(self, values: dict[str, Any]) -> None:
        now = time.time()
        async with self.engine.begin() as conn:
            await conn.execute(keys.insert().values(created_at=now, updated_at=now, spent_nusd=0, **values))

    async def key(self, key_id: str) -> Row[Any] | None:
        async with self.engine.connect() as conn:
            return (await conn.execute(select(keys).where(keys.c.id == key_id))).first()

    async def key_by_hash(self, secret_hash: str) -> Row[Any] | None:
        async with self.engine.connect() as conn:
            return (await conn.execute(select(keys).where(keys.c.secret_hash == secret_hash))).first()

    async def list_keys(self, team_id: str | None = None, include_revoked: bool = False) -> list[Row[Any]]:
        query = select(keys).order_by(keys.c.created_at)
        if team_id is not None:
            query = query.where(keys.c.team_id == team_id)
        if not include_revoked:
            query = query.where(keys.c.revoked_at.is_(None))
        async with self.engine.connect() as conn:
            return list((await conn.execute(query)).all())

    async def has_keys(self) -> bool:
        """Whether a key was ever created here, revoked ones included: revoking the last key must
        not turn a keyless gateway back into an open one (anonymous admin stays off)."""
        async with self.engine.connect() as conn:
            found = await conn.execute(select(keys.c.id).limit(1))
            return found.first() is not None

    async def update_key(self, key_id: str, values: dict[str, Any]) -> bool:
        async with self.engine.begin() as conn:
            result = await conn.execute(
                update(keys).where(keys.c.id == key_id).values(updated_at=time.time(), **values)
            )
            return bool(result.rowcount)

    async def topup_key(self, key_id: str, amount_nusd: int) -> bool:
        return await self._topup(keys, key_id, amount_nusd)

    # -- teams -----------------------------------------------------------------------------

    async def insert_team(self, values: dict[str, Any]) -> None:
        now = time.time()
        async with self.engine.begin() as conn:
            await conn.execute(teams.insert().values(created_at=now, updated_at=now, spent_nusd=0, **values))

    async def team(self, team_id: str) -> Row[Any] | None:
        async with self.engine.connect() as conn:
            return (await conn.execute(select(teams).where(teams.c.id == team_id))).first()

    async def list_teams(self) -> list[Row[Any]]:
        async with self.engine.connect() as conn:
            return list((await conn.execute(select(teams).order_by(teams.c.created_at))).all())

    async def update_team(self, team_id: str, values: dict[str, Any]) -> bool:
        async with self.engine.begin() as conn:
            result = await conn.execute(
                update(teams).where(teams.c.id == team_id).values(updated_at=time.time(), **values)
            )
            return bool(result.rowcount)

    async def topup_team(self, team_id: str, amount_nusd: int) -> bool:
        return await self._topup(teams, team_id, amount_nusd)

    async def _topup(self, table: Any, row_id: str, amount_nusd: int) -> bool:
        """Add to the total credited (a key/team without a credit limit gets one)."""
        async with self.engine.begin() as conn:
            result = await conn.execute(
                update(table)
                .where(table.c.id == row_id)
                .values(credit_nusd=func.coalesce(table.c.credit_nusd, 0) + amount_nusd, updated_at=time.time())
            )
            return bool(result.rowcount)

    # -- ledger ----------------------------------------------------------------------------

    async def request_owner(self, request_id: str) -> tuple[bool, str | None]:
        """(found, key id) of a request in the ledger."""
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(ledger.c.key_id).where(ledger.c.request_id == request_id))).first()
        return (False, None) if row is None else (True, row[0])

    async def spent_since(self, kind: str, account_id: str, since: float) -> int:
        column = ledger.c.key_id if kind == "key" else ledger.c.team_id
        async with self.engine.connect() as conn:
            total = await conn.execute(
                select(func.coalesce(func.sum(ledger.c.cost_nusd), 0)).where(
                    and_(column == account_id, ledger.c.ts >= since)
                )
            )
            return int(total.scalar_one())

    async def insert_usage(self, rows: Sequence[dict[str, Any]]) -> int:
        """Insert ledger rows, skipping request ids already there, and add what was inserted to
        the keys' and teams' durable spend — in one transaction (idempotent on request id)."""
        if not rows:
            return 0
        async with self.engine.begin() as conn:
            if conn.dialect.name == "sqlite":
                inserted = await self._insert_usage_sqlite(conn, rows)
            else:
                # several replicas may deliver the same record (a dead consumer's records are
                # claimed): the database decides which insert counts, and says so by RETURNING
                statement = (
                    postgresql.insert(ledger)
                    .on_conflict_do_nothing(index_elements=["request_id"])
                    .returning(ledger.c.key_id, ledger.c.team_id, ledger.c.cost_nusd)
                )
                params = [{name: row.get(name) for name in USAGE_COLUMNS} for row in rows]
                inserted = [tuple(r) for r in (await conn.execute(statement, params)).all()]
            await self._add_spend(conn, inserted)
            return len(inserted)

    @staticmethod
    async def _add_spend(conn: AsyncConnection, charges: Sequence[tuple[Any, Any, Any]]) -> None:
        """Add (key_id, team_id, cost) charges to the keys' and teams' durable spend."""
        by_key: dict[str, int] = defaultdict(int)
        by_team: dict[str, int] = defaultdict(int)
        for key_id, team_id, cost in charges:
            if key_id and cost:
                by_key[key_id] += cost
            if team_id and cost:
                by_team[team_id] += cost
        for table, totals in ((keys, by_key), (teams, by_team)):
            if not totals:
                continue
            # one statement executed for many rows: a batch spread over hundreds of keys is one
            # round trip to the driver, not one per key (which kept the flusher behind the traffic)
            statement = (
                update(table)
                .where(table.c.id == bindparam("row_id"))
                .values(spent_nusd=table.c.spent_nusd + bindparam("amount"))
            )
            # a fixed order: no deadlocks between replicas
            await conn.execute(statement, [{"row_id": row_id, "amount": totals[row_id]} for row_id in sorted(totals)])

    async def reachable(self) -> bool:
        """Whether the database answers at all (to tell a refused row from a database away)."""
        try:
            async with self.engine.connect() as conn:
                await conn.execute(select(1))
            return True
        except Exception:
            return False

    async def quarantine_usage(self, record: str, error: str, row: dict[str, Any] | None) -> None:
        """Keep a record the database refused, with the reason; its cost still counts as spent
        (the live counters charged it), so a restart cannot forget it."""
        row = row or {}
        key_id, team_id = _text(row.get("key_id")), _text(row.get("team_id"))
        cost = row.get("cost_nusd")
        cost = cost if isinstance(cost, int) and not isinstance(cost, bool) and 0 <= cost < 2**63 else 0
        request_id = _text(row.get("request_id"))
        async with self.engine.begin() as conn:
            if request_id is not None:
                seen = select(usage_quarantine.c.id).where(usage_quarantine.c.request_id == request_id).limit(1)
                if await conn.scalar(seen) is not None:
                    return  # delivered twice (at-least-once): kept once
            await conn.execute(
                usage_quarantine.insert().values(
                    ts=time.time(),
                    request_id=request_id,
                    key_id=key_id,
                    team_id=team_id,
                    cost_nusd=cost,
                    record=record.replace("\x00", ""),
                    error=error[:2000],
                )
            )
            await self._add_spend(conn, [(key_id, team_id, cost)])

    async def quarantined(self, limit: int = 100) -> list[dict[str, Any]]:
        async with self.engine.connect() as conn:
            query = select(usage_quarantine).order_by(usage_quarantine.c.id.desc()).limit(limit)
            return [_plain(row) for row in (await conn.execute(query)).all()]

    @staticmethod
    async def _insert_usage_sqlite(conn: AsyncConnection, rows: Sequence[dict[str, Any]]) -> list[tuple[Any, ...]]:
        """SQLite has one writer (this process), so re-delivered rows are found by a lookup and the
        rest go in with one driver-level executemany: ~10x less event-loop time per row than a
        compiled multi-row INSERT … RETURNING, which matters at thousands of requests a second."""
        fresh: dict[str, dict[str, Any]] = {row["request_id"]: row for row in rows}
        ids = list(fresh)
        for start in range(0, len(ids), 500):  # SQLite's bound-parameter limit
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            found = await conn.exec_driver_sql(
                f"SELECT request_id FROM {ledger.name} WHERE request_id IN ({marks})", tuple(chunk)
            )
            for (request_id,) in found.all():
                fresh.pop(request_id, None)
        if fresh:
            await conn.exec_driver_sql(
                _SQLITE_INSERT, [tuple(row.get(name) for name in USAGE_COLUMNS) for row in fresh.values()]
            )
        return [(row.get("key_id"), row.get("team_id"), row.get("cost_nusd")) for row in fresh.values()]

    async def usage(
        self,
        filters: dict[str, Any],
        group_by: str | None,
        limit: int = 100,
    ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """Rows (newest first) or aggregates per group, plus the totals over every match."""
        conditions = []
        for name in ("key_id", "team_id", "model", "provider", "status", "deployment"):
            if filters.get(name) is not None:
                conditions.append(ledger.c[name] == filters[name])
        if filters.get("key_ids") is not None:  # e.g. every key of one self-service user
            conditions.append(ledger.c.key_id.in_(filters["key_ids"]))
        if filters.get("since") is not None:
            conditions.append(ledger.c.ts >= filters["since"])
        if filters.get("until") is not None:
            conditions.append(ledger.c.ts < filters["until"])
        where = and_(*conditions) if conditions else None
        aggregates = [
            func.count().label("requests"),
            func.coalesce(func.sum(ledger.c.input_tokens), 0).label("input_tokens"),
            func.coalesce(func.sum(ledger.c.cached_tokens), 0).label("cached_tokens"),
            func.coalesce(func.sum(ledger.c.output_tokens), 0).label("output_tokens"),
            func.coalesce(func.sum(ledger.c.reasoning_tokens), 0).label("reasoning_tokens"),
            func.coalesce(func.sum(ledger.c.cost_nusd), 0).label("cost_nusd"),
            func.coalesce(func.sum(case((ledger.c.status != "ok", 1), else_=0)), 0).label("errors"),
            func.avg(ledger.c.latency_ms).label("avg_latency_ms"),
        ]
        async with self.engine.connect() as conn:
            total_query = select(*aggregates)
            if where is not None:
                total_query = total_query.where(where)
            totals = _plain((await conn.execute(total_query)).one())
            if group_by is None:
                query = select(ledger).order_by(ledger.c.ts.desc()).limit(limit)
                if where is not None:
                    query = query.where(where)
                data = [_plain(row) for row in (await conn.execute(query)).all()]
            else:
                column = GROUPS[group_by]
                query = select(column.label("group"), *aggregates).group_by(column).order_by(column).limit(limit)
                if where is not None:
                    query = query.where(where)
                data = [_plain(row) for row in (await conn.execute(query)).all()]
        return data, totals


def _plain(row: Row[Any]) -> dict[str, Any]:
    """A result row as JSON-ready values (PostgreSQL sums are Decimals)."""
    out: dict[str, Any] = {}
    for name, value in row._asdict().items():
        if isinstance(value, Decimal):
            value = int(value) if value == value.to_integral_value() else float(value)
        out[str(name)] = value
    return out


def _text(value: Any) -> str | None:
    """A value as text the database accepts (no NUL characters), or None."""
    return None if value is None else str(value).replace("\x00", "")[:200]
