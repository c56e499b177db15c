"""Self-service: users, sessions, one-time tokens, credit ledger, checkouts, the audit log; keys
get an owning user, teams an allowlist and a per-member key limit.

The audit table is append-only in the database itself: triggers refuse UPDATE and DELETE.

Revision ID: 0002_selfservice
Revises: 0001_accounts
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_selfservice"
down_revision = "0001_accounts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("unigate_keys") as batch:
        batch.add_column(sa.Column("user_id", sa.String(40), nullable=True))
        batch.create_index("ix_unigate_keys_user_id", ["user_id"])
    with op.batch_alter_table("unigate_teams") as batch:
        batch.add_column(sa.Column("allowed_models", sa.JSON, nullable=True))
        batch.add_column(sa.Column("max_keys_per_member", sa.Integer, nullable=True))
    op.create_table(
        "unigate_users",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("email", sa.String(320), nullable=False, unique=True),
        sa.Column("name", sa.String(200), nullable=True),
        sa.Column("password_hash", sa.String(200), nullable=True),
        sa.Column("role", sa.String(16), nullable=False, server_default="member"),
        sa.Column("team_id", sa.String(40), nullable=True, index=True),
        sa.Column("team_role", sa.String(16), nullable=False, server_default="member"),
        sa.Column("email_verified", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("disabled", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("oidc_subject", sa.String(400), nullable=True, unique=True),
        sa.Column("credit_nusd", sa.BigInteger, nullable=True),
        sa.Column("budget_nusd", sa.BigInteger, nullable=True),
        sa.Column("budget_period", sa.String(8), nullable=True),
        sa.Column("failed_logins", sa.Integer, nullable=False, server_default="0"),
        sa.Column("locked_until", sa.Float, nullable=True),
        sa.Column("last_login_at", sa.Float, nullable=True),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
    )
    op.create_table(
        "unigate_sessions",
        sa.Column("id_hash", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.String(40), nullable=False, index=True),
        sa.Column("csrf_token", sa.String(64), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("expires_at", sa.Float, nullable=False),
    )
    op.create_table(
        "unigate_user_tokens",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("purpose", sa.String(16), nullable=False),
        sa.Column("user_id", sa.String(40), nullable=True),
        sa.Column("email", sa.String(320), nullable=True),
        sa.Column("data", sa.JSON, nullable=True),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("expires_at", sa.Float, nullable=False),
        sa.Column("used_at", sa.Float, nullable=True),
    )
    op.create_table(
        "unigate_credit_ledger",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("ts", sa.Float, nullable=False),
        sa.Column("user_id", sa.String(40), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("amount_nusd", sa.BigInteger, nullable=False),
        sa.Column("paid_cents", sa.BigInteger, nullable=True),
        sa.Column("currency", sa.String(3), nullable=True),
        sa.Column("reference", sa.String(200), nullable=True, unique=True),
        sa.Column("actor", sa.String(200), nullable=True),
        sa.Column("note", sa.String(500), nullable=True),
    )
    op.create_index("ix_unigate_credit_ledger_user_ts", "unigate_credit_ledger", ["user_id", "ts"])
    op.create_table(
        "unigate_checkouts",
        sa.Column("id", sa.String(200), primary_key=True),
        sa.Column("user_id", sa.String(40), nullable=False, index=True),
        sa.Column("amount_cents", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_table(
        "unigate_audit",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("ts", sa.Float, nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("actor_email", sa.String(320), nullable=True),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("target", sa.String(200), nullable=True),
        sa.Column("detail", sa.JSON, nullable=True),
        sa.Column("ip", sa.String(64), nullable=True),
        sa.Column("ok", sa.Boolean, nullable=False, server_default=sa.true()),
    )
    op.create_index("ix_unigate_audit_ts", "unigate_audit", ["ts"])
    _append_only("unigate_audit")


def _append_only(table: str) -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION unigate_append_only() RETURNS trigger AS $$ BEGIN "
            "RAISE EXCEPTION 'the audit log is append-only'; END; $$ LANGUAGE plpgsql"
        )
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION unigate_append_only()"
        )
        return
    for event in ("UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER {table}_no_{event.lower()} BEFORE {event} ON {table} "
            "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END"
        )


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS unigate_audit_append_only ON unigate_audit")
        op.execute("DROP FUNCTION IF EXISTS unigate_append_only()")
    for table in (
        "unigate_audit",
        "unigate_checkouts",
        "unigate_credit_ledger",
        "unigate_user_tokens",
        "unigate_sessions",
        "unigate_users",
    ):
        op.drop_table(table)
    with op.batch_alter_table("unigate_teams") as batch:
        batch.drop_column("max_keys_per_member")
        batch.drop_column("allowed_models")
    with op.batch_alter_table("unigate_keys") as batch:
        batch.drop_index("ix_unigate_keys_user_id")
        batch.drop_column("user_id")
