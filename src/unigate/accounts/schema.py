"""The accounts tables (SQLAlchemy Core). Money is integer nano-USD (1e-9), so sums are exact."""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Boolean, Column, Float, Index, Integer, MetaData, String, Table, Text

metadata = MetaData()

teams = Table(
    "unigate_teams",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("credit_nusd", BigInteger, nullable=True),  # total ever credited; NULL = no credit limit
    Column("spent_nusd", BigInteger, nullable=False, default=0),  # durable spend (ledger rows written)
    Column("budget_nusd", BigInteger, nullable=True),
    Column("budget_period", String(8), nullable=True),  # day | week | month
    Column("rpm", Integer, nullable=True),
    Column("tpm", Integer, nullable=True),
    Column("max_concurrency", Integer, nullable=True),
    Column("enabled", Boolean, nullable=False, default=True),
    Column("metadata", JSON, nullable=True),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("allowed_models", JSON, nullable=True),  # every key of the team is limited to these (0002)
    Column("max_keys_per_member", Integer, nullable=True),  # self-service keys per member (0002)
)

keys = Table(
    "unigate_keys",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("secret_hash", String(64), nullable=False, unique=True),
    Column("prefix", String(16), nullable=False),
    Column("team_id", String(40), nullable=True, index=True),
    Column("owner", String(200), nullable=True),
    Column("tags", JSON, nullable=True),
    Column("allowed_models", JSON, nullable=True),
    Column("credit_nusd", BigInteger, nullable=True),
    Column("spent_nusd", BigInteger, nullable=False, default=0),
    Column("budget_nusd", BigInteger, nullable=True),
    Column("budget_period", String(8), nullable=True),
    Column("rpm", Integer, nullable=True),
    Column("tpm", Integer, nullable=True),
    Column("max_concurrency", Integer, nullable=True),
    Column("expires_at", Float, nullable=True),
    Column("enabled", Boolean, nullable=False, default=True),
    Column("revoked_at", Float, nullable=True),
    Column("metadata", JSON, nullable=True),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("user_id", String(40), nullable=True, index=True),  # the self-service user who owns it (0002)
)

ledger = Table(
    "unigate_usage",
    metadata,
    Column("request_id", String(64), primary_key=True),
    Column("ts", Float, nullable=False),  # unix seconds (UTC)
    Column("day", String(10), nullable=False),  # YYYY-MM-DD (UTC), for grouping on every database
    Column("key_id", String(40), nullable=True),
    Column("team_id", String(40), nullable=True),
    Column("model", String(200), nullable=False),
    Column("deployment", String(200), nullable=True),
    Column("provider", String(64), nullable=True),
    Column("endpoint", String(16), nullable=False),
    Column("stream", Boolean, nullable=False),
    Column("input_tokens", Integer, nullable=False),
    Column("cached_tokens", Integer, nullable=False),
    Column("output_tokens", Integer, nullable=False),
    Column("reasoning_tokens", Integer, nullable=False),
    Column("cost_nusd", BigInteger, nullable=False),
    Column("latency_ms", Float, nullable=True),
    Column("ttft_ms", Float, nullable=True),
    Column("status", String(16), nullable=False),
    Column("error_class", String(64), nullable=True),
    Index("ix_unigate_usage_key_ts", "key_id", "ts"),
    Index("ix_unigate_usage_team_ts", "team_id", "ts"),
    Index("ix_unigate_usage_ts", "ts"),
)

# Ledger records the database refused (after their batch failed and they were retried one by
# one): kept whole, with the reason, and their cost still counted in the account's spend.
usage_quarantine = Table(
    "unigate_usage_quarantine",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("ts", Float, nullable=False),
    Column("request_id", Text, nullable=True),
    Column("key_id", Text, nullable=True),
    Column("team_id", Text, nullable=True),
    Column("cost_nusd", BigInteger, nullable=False),
    Column("record", Text, nullable=False),  # the record as queued (JSON)
    Column("error", Text, nullable=False),
)
