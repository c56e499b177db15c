"""The stored-responses table (SQLAlchemy Core), in the gateway's database beside the accounts tables."""

from __future__ import annotations

from sqlalchemy import JSON, Column, Float, Index, MetaData, String, Table

metadata = MetaData()

responses = Table(
    "unigate_responses",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("owner", String(64), nullable=False),  # the key id that created it ("master" for the master key)
    Column("model", String(200), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    Column("previous_response_id", String(64), nullable=True),
    Column("input_items", JSON, nullable=False),  # the whole conversation up to this response's output
    Column("response", JSON, nullable=False),  # the response object as returned to the client
    Index("ix_unigate_responses_owner", "owner"),
    Index("ix_unigate_responses_expires", "expires_at"),
)
