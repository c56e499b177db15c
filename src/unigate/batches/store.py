"""Files on disk (in the data directory) with their records, batches and per-line state.

Every read is scoped by owner: another key's file or batch is indistinguishable from one that
never existed. A line is ``pending`` until its answer is stored, in one statement, as ``done``:
a line is never answered twice, and one that was in flight when the process died is pending
again after a restart.
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import and_, case, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from unigate.batches.schema import batches, files, lines

VERSION_TABLE = "unigate_batches_version"
MIGRATIONS = Path(__file__).parent / "migrations"
ACTIVE = ("validating", "in_progress", "finalizing", "cancelling")


def new_id(prefix: str) -> str:
    return f"{prefix}{secrets.token_hex(12)}"


class FileStore:
    def __init__(self, engine: AsyncEngine, directory: Path) -> None:
        self.engine = engine
        self.directory = directory

    def _path(self, file_id: str) -> Path:
        return self.directory / file_id

    async def create(self, owner: str, filename: str, purpose: str, data: bytes) -> dict[str, Any]:
        file_id = new_id("file-")
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = self._path(file_id)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        row = {
            "id": file_id,
            "owner": owner,
            "filename": filename[:255],
            "purpose": purpose,
            "bytes": len(data),
            "created_at": time.time(),
        }
        async with self.engine.begin() as conn:
            await conn.execute(files.insert().values(**row))
        return row

    async def get(self, file_id: str, owner: str | None) -> dict[str, Any] | None:
        """The file's record; ``owner=None`` reads any owner's (the batch runner)."""
        query = select(files).where(files.c.id == file_id)
        if owner is not None:
            query = query.where(files.c.owner == owner)
        async with self.engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return dict(row._mapping) if row is not None else None

    def read(self, file_id: str) -> bytes:
        return self._path(file_id).read_bytes()

    async def owned(self, owner: str, purpose: str | None, limit: int) -> list[dict[str, Any]]:
        query = select(files).where(files.c.owner == owner)
        if purpose:
            query = query.where(files.c.purpose == purpose)
        query = query.order_by(files.c.created_at.desc()).limit(limit)
        async with self.engine.connect() as conn:
            return [dict(r._mapping) for r in (await conn.execute(query)).all()]

    async def delete(self, file_id: str, owner: str) -> bool:
        async with self.engine.begin() as conn:
            result = await conn.execute(delete(files).where(and_(files.c.id == file_id, files.c.owner == owner)))
        if not result.rowcount:
            return False
        self._path(file_id).unlink(missing_ok=True)
        return True


class BatchStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def migrate(self) -> None:
        from unigate.accounts.db import upgrade

        await upgrade(self.engine, migrations=MIGRATIONS, version_table=VERSION_TABLE)

    async def create(self, batch: dict[str, Any], requests: Sequence[dict[str, Any]]) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(batches.insert().values(**batch))
            for start in range(0, len(requests), 500):
                chunk = requests[start : start + 500]
                await conn.execute(
                    lines.insert(),
                    [
                        {
                            "batch_id": batch["id"],
                            "line_no": r["line_no"],
                            "custom_id": r["custom_id"],
                            "body": r["body"],
                            "state": "pending",
                        }
                        for r in chunk
                    ],
                )

    async def get(self, batch_id: str, owner: str | None = None) -> dict[str, Any] | None:
        query = select(batches).where(batches.c.id == batch_id)
        if owner is not None:
            query = query.where(batches.c.owner == owner)
        async with self.engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return dict(row._mapping) if row is not None else None

    async def recent(self, owner: str | None, limit: int, after: str | None = None) -> list[dict[str, Any]]:
        query = select(batches)
        if owner is not None:
            query = query.where(batches.c.owner == owner)
        if after:
            anchor = await self.get(after, owner)
            if anchor is not None:
                query = query.where(batches.c.created_at < anchor["created_at"])
        query = query.order_by(batches.c.created_at.desc()).limit(limit)
        async with self.engine.connect() as conn:
            return [dict(r._mapping) for r in (await conn.execute(query)).all()]

    async def active(self) -> list[dict[str, Any]]:
        async with self.engine.connect() as conn:
            rows = (await conn.execute(select(batches).where(batches.c.status.in_(ACTIVE)))).all()
        return [dict(r._mapping) for r in rows]

    async def set(self, batch_id: str, **values: Any) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(update(batches).where(batches.c.id == batch_id).values(**values))

    async def request_cancel(self, batch_id: str, owner: str) -> bool:
        """Move an active batch to ``cancelling`` (the runner finishes the cancellation)."""
        async with self.engine.begin() as conn:
            result = await conn.execute(
                update(batches)
                .where(
                    and_(
                        batches.c.id == batch_id,
                        batches.c.owner == owner,
                        batches.c.status.in_(("validating", "in_progress")),
                    )
                )
                .values(status="cancelling", cancelling_at=time.time())
            )
        return bool(result.rowcount)

    async def pending(self, batch_id: str, after: int, limit: int) -> list[dict[str, Any]]:
        query = (
            select(lines.c.line_no, lines.c.custom_id, lines.c.body)
            .where(and_(lines.c.batch_id == batch_id, lines.c.state == "pending", lines.c.line_no > after))
            .order_by(lines.c.line_no)
            .limit(limit)
        )
        async with self.engine.connect() as conn:
            return [dict(r._mapping) for r in (await conn.execute(query)).all()]

    async def finish(self, batch_id: str, line_no: int, status_code: int, result: Any, request_id: str) -> bool:
        """Store a line's answer; False if it was already answered (it then keeps its first)."""
        async with self.engine.begin() as conn:
            done = await conn.execute(
                update(lines)
                .where(and_(lines.c.batch_id == batch_id, lines.c.line_no == line_no, lines.c.state == "pending"))
                .values(
                    state="done",
                    status_code=status_code,
                    result=result,
                    request_id=request_id,
                    updated_at=time.time(),
                )
            )
        return bool(done.rowcount)

    async def counts(self, batch_ids: Sequence[str]) -> dict[str, dict[str, int]]:
        """Per batch: lines answered with a 2xx (completed) and otherwise (failed)."""
        if not batch_ids:
            return {}
        ok = func.sum(case((lines.c.status_code < 300, 1), else_=0))
        query = (
            select(lines.c.batch_id, func.count().label("done"), ok.label("ok"))
            .where(and_(lines.c.batch_id.in_(list(batch_ids)), lines.c.state == "done"))
            .group_by(lines.c.batch_id)
        )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        out = {batch_id: {"completed": 0, "failed": 0} for batch_id in batch_ids}
        for batch_id, done, ok_count in rows:
            out[batch_id] = {"completed": int(ok_count or 0), "failed": int(done) - int(ok_count or 0)}
        return out

    async def answered(self, batch_id: str) -> list[dict[str, Any]]:
        query = (
            select(lines.c.line_no, lines.c.custom_id, lines.c.status_code, lines.c.result, lines.c.request_id)
            .where(and_(lines.c.batch_id == batch_id, lines.c.state == "done"))
            .order_by(lines.c.line_no)
        )
        async with self.engine.connect() as conn:
            return [dict(r._mapping) for r in (await conn.execute(query)).all()]
