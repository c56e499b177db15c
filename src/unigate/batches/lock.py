"""Which process runs the batches: exactly one at a time, so no batch is run twice.

- One machine (SQLite, or workers sharing a data directory): an exclusive ``flock`` on
  ``<data_dir>/batches.lock``.
- PostgreSQL (replicas on several machines): a session-level advisory lock, held by one
  connection for as long as the process runs batches. If that connection is lost, the database
  has released the lock (another replica may take it), so the holder stops at once.

A process without the lock serves the API and tries again every few seconds: when the runner
dies, another takes over and resumes its batches.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import IO, Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

ADVISORY_ID = 0x75676274  # "ugbt": the batch runner's lock (the migrations use another)


class FileLock:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._handle: IO[bytes] | None = None

    async def acquire(self) -> bool:
        import fcntl

        if self._handle is not None:
            return True
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = self.path.open("ab")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            return False
        self._handle = handle
        return True

    async def held(self) -> bool:
        return self._handle is not None

    async def release(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None


class AdvisoryLock:
    def __init__(self, engine: AsyncEngine, lock_id: int = ADVISORY_ID) -> None:
        self.engine = engine
        self.lock_id = lock_id
        self._conn: AsyncConnection | None = None

    async def acquire(self) -> bool:
        if self._conn is not None:
            return True
        conn = await self.engine.connect()
        try:
            got = (await conn.execute(text("SELECT pg_try_advisory_lock(:id)"), {"id": self.lock_id})).scalar()
            await conn.commit()  # the lock is the session's; no transaction stays open
        except Exception:
            await conn.close()
            raise
        if not got:
            await conn.close()
            return False
        self._conn = conn
        return True

    async def held(self) -> bool:
        """Whether the lock's connection is still alive (if not, the database released it)."""
        if self._conn is None:
            return False
        try:
            await self._conn.execute(text("SELECT 1"))
            await self._conn.commit()
            return True
        except Exception:
            await self._drop()
            return False

    async def release(self) -> None:
        if self._conn is None:
            return
        with contextlib.suppress(Exception):
            await self._conn.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": self.lock_id})
            await self._conn.commit()
        await self._drop()

    async def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.invalidate()  # a broken connection must not go back to the pool
            with contextlib.suppress(Exception):
                await conn.close()


def runner_lock(engine: AsyncEngine, data_dir: Path) -> Any:
    if engine.dialect.name == "postgresql":
        return AdvisoryLock(engine)
    return FileLock(data_dir / "batches.lock")
