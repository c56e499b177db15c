"""Alembic environment: runs on the connection handed over by ``unigate.accounts.db.upgrade``."""

from __future__ import annotations

from alembic import context

from unigate.accounts.db import VERSION_TABLE
from unigate.accounts.schema import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, version_table=VERSION_TABLE)
with context.begin_transaction():
    context.run_migrations()
