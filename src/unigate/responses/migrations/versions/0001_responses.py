"""Stored Responses API responses (previous_response_id, GET / DELETE /v1/responses/{id}).

Revision ID: 0001_responses
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_responses"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "unigate_responses",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("owner", sa.String(64), nullable=False),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("expires_at", sa.Float, nullable=False),
        sa.Column("previous_response_id", sa.String(64), nullable=True),
        sa.Column("input_items", sa.JSON, nullable=False),
        sa.Column("response", sa.JSON, nullable=False),
    )
    op.create_index("ix_unigate_responses_owner", "unigate_responses", ["owner"])
    op.create_index("ix_unigate_responses_expires", "unigate_responses", ["expires_at"])


def downgrade() -> None:
    op.drop_table("unigate_responses")
