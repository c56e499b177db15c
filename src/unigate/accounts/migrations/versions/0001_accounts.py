"""Keys, teams and the usage ledger.

Revision ID: 0001_accounts
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_accounts"
down_revision = None
branch_labels = None
depends_on = None


def _limits() -> list[sa.Column]:
    return [
        sa.Column("credit_nusd", sa.BigInteger, nullable=True),
        sa.Column("spent_nusd", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("budget_nusd", sa.BigInteger, nullable=True),
        sa.Column("budget_period", sa.String(8), nullable=True),
        sa.Column("rpm", sa.Integer, nullable=True),
        sa.Column("tpm", sa.Integer, nullable=True),
        sa.Column("max_concurrency", sa.Integer, nullable=True),
    ]


def upgrade() -> None:
    op.create_table(
        "unigate_teams",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        *_limits(),
        sa.Column("enabled", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("metadata", sa.JSON, nullable=True),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
    )
    op.create_table(
        "unigate_keys",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("secret_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("team_id", sa.String(40), nullable=True, index=True),
        sa.Column("owner", sa.String(200), nullable=True),
        sa.Column("tags", sa.JSON, nullable=True),
        sa.Column("allowed_models", sa.JSON, nullable=True),
        *_limits(),
        sa.Column("expires_at", sa.Float, nullable=True),
        sa.Column("enabled", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("revoked_at", sa.Float, nullable=True),
        sa.Column("metadata", sa.JSON, nullable=True),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
    )
    op.create_table(
        "unigate_usage",
        sa.Column("request_id", sa.String(64), primary_key=True),
        sa.Column("ts", sa.Float, nullable=False),
        sa.Column("day", sa.String(10), nullable=False),
        sa.Column("key_id", sa.String(40), nullable=True),
        sa.Column("team_id", sa.String(40), nullable=True),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("deployment", sa.String(200), nullable=True),
        sa.Column("provider", sa.String(64), nullable=True),
        sa.Column("endpoint", sa.String(16), nullable=False),
        sa.Column("stream", sa.Boolean, nullable=False),
        sa.Column("input_tokens", sa.Integer, nullable=False),
        sa.Column("cached_tokens", sa.Integer, nullable=False),
        sa.Column("output_tokens", sa.Integer, nullable=False),
        sa.Column("reasoning_tokens", sa.Integer, nullable=False),
        sa.Column("cost_nusd", sa.BigInteger, nullable=False),
        sa.Column("latency_ms", sa.Float, nullable=True),
        sa.Column("ttft_ms", sa.Float, nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("error_class", sa.String(64), nullable=True),
    )
    op.create_index("ix_unigate_usage_key_ts", "unigate_usage", ["key_id", "ts"])
    op.create_index("ix_unigate_usage_team_ts", "unigate_usage", ["team_id", "ts"])
    op.create_index("ix_unigate_usage_ts", "unigate_usage", ["ts"])


def downgrade() -> None:
    op.drop_table("unigate_usage")
    op.drop_table("unigate_keys")
    op.drop_table("unigate_teams")
