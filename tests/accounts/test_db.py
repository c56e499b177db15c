"""Migrations on start: a database already at the head is recognised without Alembic."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory

from unigate.accounts.db import MIGRATIONS, head_revisions
from unigate.batches.store import MIGRATIONS as BATCHES
from unigate.responses.store import MIGRATIONS as RESPONSES


@pytest.mark.parametrize("folder", [MIGRATIONS, BATCHES, RESPONSES], ids=["accounts", "batches", "responses"])
def test_heads_read_from_the_files_are_alembics(folder: Path) -> None:
    config = Config()
    config.set_main_option("script_location", str(folder))
    assert head_revisions(folder) == set(ScriptDirectory.from_config(config).get_heads())


def test_heads_follow_a_new_revision(tmp_path: Path) -> None:
    (tmp_path / "versions").mkdir()
    (tmp_path / "versions" / "a.py").write_text('revision = "a"\ndown_revision = None\n')
    (tmp_path / "versions" / "b.py").write_text("revision: str = 'b'\ndown_revision: str | None = 'a'\n")
    assert head_revisions(tmp_path) == {"b"}


UPGRADE = """
import asyncio, sys
from unigate.accounts.db import upgrade
from sqlalchemy.ext.asyncio import create_async_engine
async def main():
    engine = create_async_engine("sqlite+aiosqlite:///{path}")
    await upgrade(engine)
    await engine.dispose()
asyncio.run(main())
print("alembic" in sys.modules)
"""


def test_a_database_at_the_head_is_not_migrated_again(tmp_path: Path) -> None:
    script = UPGRADE.format(path=tmp_path / "db.sqlite")

    def run() -> str:
        return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout.strip()

    assert run() == "True"  # a new database: Alembic creates the tables
    assert run() == "False"  # at the head already: one SELECT, no Alembic
