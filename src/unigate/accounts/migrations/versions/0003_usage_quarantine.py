"""Ledger quarantine: records the database refused, kept whole with the reason.

Revision ID: 0003_usage_quarantine
Revises: 0002_selfservice
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_usage_quarantine"
down_revision = "0002_selfservice"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "unigate_usage_quarantine",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("ts", sa.Float, nullable=False),
        sa.Column("request_id", sa.Text, nullable=True),
        sa.Column("key_id", sa.Text, nullable=True),
        sa.Column("team_id", sa.Text, nullable=True),
        sa.Column("cost_nusd", sa.BigInteger, nullable=False),
        sa.Column("record", sa.Text, nullable=False),
        sa.Column("error", sa.Text, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("unigate_usage_quarantine")
