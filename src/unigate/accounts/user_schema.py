"""The self-service tables: users, sessions, one-time tokens, the credit ledger, checkouts, audit.

Same metadata as the key/team/usage tables (one Alembic history); money is integer nano-USD.
"""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Boolean, Column, Float, Index, Integer, String, Table

from unigate.accounts.schema import metadata

ROLES = ("admin", "member")  # a user's role on the whole gateway
TEAM_ROLES = ("admin", "member")  # a user's role in their team

users = Table(
    "unigate_users",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("email", String(320), nullable=False, unique=True),  # lower-cased
    Column("name", String(200), nullable=True),
    Column("password_hash", String(200), nullable=True),  # argon2id; NULL: single sign-on only
    Column("role", String(16), nullable=False, default="member"),
    Column("team_id", String(40), nullable=True, index=True),
    Column("team_role", String(16), nullable=False, default="member"),
    Column("email_verified", Boolean, nullable=False, default=False),
    Column("disabled", Boolean, nullable=False, default=False),
    Column("oidc_subject", String(400), nullable=True, unique=True),  # "<issuer> <sub>"
    # the user's wallet: total credited (NULL: no user credit limit) and the team admin's share
    Column("credit_nusd", BigInteger, nullable=True),
    Column("budget_nusd", BigInteger, nullable=True),
    Column("budget_period", String(8), nullable=True),
    Column("failed_logins", Integer, nullable=False, default=0),
    Column("locked_until", Float, nullable=True),
    Column("last_login_at", Float, nullable=True),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
)

sessions = Table(
    "unigate_sessions",
    metadata,
    Column("id_hash", String(64), primary_key=True),  # SHA-256 of the cookie value; the value is never stored
    Column("user_id", String(40), nullable=False, index=True),
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
)

tokens = Table(
    "unigate_user_tokens",
    metadata,
    Column("token_hash", String(64), primary_key=True),  # SHA-256 of the token sent by mail / in a link
    Column("purpose", String(16), nullable=False),  # verify | reset | invite | oidc
    Column("user_id", String(40), nullable=True),
    Column("email", String(320), nullable=True),
    Column("data", JSON, nullable=True),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    Column("used_at", Float, nullable=True),
)

credit_ledger = Table(
    "unigate_credit_ledger",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("ts", Float, nullable=False),
    Column("user_id", String(40), nullable=False),
    Column("kind", String(16), nullable=False),  # grant | payment | signup
    Column("amount_nusd", BigInteger, nullable=False),  # credit added (provider cost units)
    Column("paid_cents", BigInteger, nullable=True),  # what the user paid, for payments
    Column("currency", String(3), nullable=True),
    # a payment's provider event id, a grant's audit id: unique, so a payment is credited once
    Column("reference", String(200), nullable=True, unique=True),
    Column("actor", String(200), nullable=True),
    Column("note", String(500), nullable=True),
    Index("ix_unigate_credit_ledger_user_ts", "user_id", "ts"),
)

checkouts = Table(
    "unigate_checkouts",
    metadata,
    Column("id", String(200), primary_key=True),  # the provider's checkout session id
    Column("user_id", String(40), nullable=False, index=True),
    Column("amount_cents", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("status", String(16), nullable=False),  # open | paid
    Column("created_at", Float, nullable=False),
)

audit = Table(
    "unigate_audit",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("ts", Float, nullable=False),
    Column("actor", String(200), nullable=False),  # user id, "master", or "system"
    Column("actor_email", String(320), nullable=True),
    Column("action", String(64), nullable=False),
    Column("target", String(200), nullable=True),
    Column("detail", JSON, nullable=True),
    Column("ip", String(64), nullable=True),
    Column("ok", Boolean, nullable=False, default=True),
    Index("ix_unigate_audit_ts", "ts"),
)
