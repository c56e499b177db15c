"""The accounts database: URL from config, async engine, migrations (Alembic, shipped in the package).

``database_url`` unset → SQLite file ``<data_dir>/unigate.db`` (WAL). ``postgresql://…`` is run
through asyncpg; concurrent replicas starting together serialise their migrations on a
PostgreSQL advisory lock.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from unigate.private_files import private_dir, private_file

VERSION_TABLE = "unigate_accounts_version"
_LOCK_ID = 0x756E6967  # "unig"


def database_url(config: Any) -> str:
    url: str | None = config.database_url
    if not url:
        directory = private_dir(config.data_dir)
        return f"sqlite+aiosqlite:///{(directory / 'unigate.db').resolve()}"
    for plain, driver in (
        ("postgresql://", "postgresql+asyncpg://"),
        ("postgres://", "postgresql+asyncpg://"),
        ("sqlite://", "sqlite+aiosqlite://"),
    ):
        if url.startswith(plain):
            return driver + url[len(plain) :]
    return url


def create_engine(config: Any) -> AsyncEngine:
    url = database_url(config)
    if url.startswith("sqlite"):
        engine = create_async_engine(url, connect_args={"timeout": 30})
        path = engine.url.database
        if path and path != ":memory:":
            # owner-only before SQLite first opens it; its -wal and -shm files copy this mode
            for name in (path, path + "-wal", path + "-shm"):
                if name == path or Path(name).exists():
                    private_file(name)

        @event.listens_for(engine.sync_engine, "connect")
        def _pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    # a database that went away is noticed in seconds, not after the OS's TCP timeout
    connect_args = {"timeout": 5} if url.startswith("postgresql+asyncpg") else {}
    return create_async_engine(
        url, pool_size=5, max_overflow=5, pool_pre_ping=True, pool_timeout=10, connect_args=connect_args
    )


MIGRATIONS = Path(__file__).parent / "migrations"


def _run_upgrade(connection: Connection, revision: str, migrations: Path) -> None:
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(migrations))
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


async def upgrade(
    engine: AsyncEngine, revision: str = "head", migrations: Path = MIGRATIONS, version_table: str = VERSION_TABLE
) -> None:
    """Apply the migrations (idempotent; safe to run from several replicas or workers at once).
    ``migrations``: another package's Alembic folder (with its own ``version_table``) on the same
    database. A database already at the head is left alone without importing Alembic (its import
    costs a third of a second and several MB of a server's resident memory)."""
    if revision == "head" and await _at_head(engine, migrations, version_table):
        return
    database = engine.url.database if engine.url.get_backend_name() == "sqlite" else None
    if database and database != ":memory:":
        # workers sharing one SQLite file take turns on a lock file beside it
        import asyncio
        import fcntl

        with open(private_file(database + ".migrate.lock"), "w") as lock:
            await asyncio.to_thread(fcntl.flock, lock, fcntl.LOCK_EX)
            try:
                await _upgrade(engine, revision, migrations)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
        return
    await _upgrade(engine, revision, migrations)


_REVISION = re.compile(r"^(down_revision|revision)\s*(?::[^=]*)?=\s*(?:\"([^\"]*)\"|'([^']*)'|None)", re.M)


def head_revisions(migrations: Path) -> set[str]:
    """The head revisions of an Alembic folder, read from its files' ``revision`` and
    ``down_revision`` lines (what Alembic itself would compute, without importing it)."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (migrations / "versions").glob("*.py"):
        for kind, double, single in _REVISION.findall(path.read_text()):
            value = double or single
            if value:
                (revisions if kind == "revision" else parents).add(value)
    return revisions - parents


async def _at_head(engine: AsyncEngine, migrations: Path, version_table: str) -> bool:
    heads = head_revisions(migrations)
    if not heads:
        return False
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(text(f"SELECT version_num FROM {version_table}"))
            return {row[0] for row in rows} == heads
    except Exception:  # no version table yet (a new database): Alembic creates it
        return False


async def _upgrade(engine: AsyncEngine, revision: str, migrations: Path) -> None:
    async with engine.connect() as connection:
        postgres = connection.dialect.name == "postgresql"
        if postgres:
            await connection.execute(text(f"SELECT pg_advisory_lock({_LOCK_ID})"))
            await connection.commit()
        try:
            await connection.run_sync(_run_upgrade, revision, migrations)
            await connection.commit()
        finally:
            if postgres:
                await connection.execute(text(f"SELECT pg_advisory_unlock({_LOCK_ID})"))
                await connection.commit()
