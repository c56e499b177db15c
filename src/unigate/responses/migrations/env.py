"""Alembic environment for the stored-responses table (its own version table, so its revisions
never interleave with the accounts package's)."""

from __future__ import annotations

from alembic import context

from unigate.responses.schema import metadata
from unigate.responses.store import VERSION_TABLE

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, version_table=VERSION_TABLE)
with context.begin_transaction():
    context.run_migrations()
