"""Provider-run batches (the remote job), batch expiry and file expiry.

Revision ID: 0002_native_expiry
Revises: 0001_batches
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_native_expiry"
down_revision = "0001_batches"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("unigate_batches", sa.Column("remote", sa.JSON, nullable=True))
    op.add_column("unigate_batches", sa.Column("expired_at", sa.Float, nullable=True))
    op.add_column("unigate_files", sa.Column("expires_at", sa.Float, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("unigate_files") as files:
        files.drop_column("expires_at")
    with op.batch_alter_table("unigate_batches") as batches:
        batches.drop_column("expired_at")
        batches.drop_column("remote")
