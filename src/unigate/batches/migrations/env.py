"""Alembic environment for the files and batches tables (their own version table, so their
revisions never interleave with another package's)."""

from __future__ import annotations

from alembic import context

from unigate.batches.schema import metadata
from unigate.batches.store import VERSION_TABLE

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, version_table=VERSION_TABLE)
with context.begin_transaction():
    context.run_migrations()
