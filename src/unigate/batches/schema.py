"""The files, batches and batch-line tables (SQLAlchemy Core), beside the accounts tables."""

from __future__ import annotations

from sqlalchemy import JSON, Column, Float, Index, Integer, MetaData, String, Table

metadata = MetaData()

files = Table(
    "unigate_files",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("owner", String(64), nullable=False),  # the key id that uploaded it ("master"/"anonymous")
    Column("filename", String(255), nullable=False),
    Column("purpose", String(32), nullable=False),
    Column("bytes", Integer, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=True),  # deleted after this (``expires_after`` on upload)
    Index("ix_unigate_files_owner", "owner"),
)

batches = Table(
    "unigate_batches",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("owner", String(64), nullable=False),
    Column("principal", JSON, nullable=False),  # who the lines run as: kind, key_id, team_id
    Column("endpoint", String(64), nullable=False),
    Column("input_file_id", String(64), nullable=False),
    Column("completion_window", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("in_progress_at", Float, nullable=True),
    Column("finalizing_at", Float, nullable=True),
    Column("completed_at", Float, nullable=True),
    Column("failed_at", Float, nullable=True),
    Column("cancelling_at", Float, nullable=True),
    Column("cancelled_at", Float, nullable=True),
    Column("expires_at", Float, nullable=True),
    Column("output_file_id", String(64), nullable=True),
    Column("error_file_id", String(64), nullable=True),
    Column("total", Integer, nullable=False),
    Column("metadata", JSON, nullable=True),
    Column("errors", JSON, nullable=True),
    Column("expired_at", Float, nullable=True),
    # a batch sent to the provider's own Batch API: provider, deployment, remote ids and state
    Column("remote", JSON, nullable=True),
    Index("ix_unigate_batches_owner", "owner"),
    Index("ix_unigate_batches_status", "status"),
)

lines = Table(
    "unigate_batch_lines",
    metadata,
    Column("batch_id", String(64), primary_key=True),
    Column("line_no", Integer, primary_key=True),
    Column("custom_id", String(512), nullable=False),
    Column("body", JSON, nullable=False),
    Column("state", String(16), nullable=False),  # pending | done
    Column("status_code", Integer, nullable=True),
    Column("result", JSON, nullable=True),  # the answer (or error) body
    Column("request_id", String(64), nullable=True),
    Column("updated_at", Float, nullable=True),
    Index("ix_unigate_batch_lines_state", "batch_id", "state"),
)
