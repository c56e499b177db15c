"""Alembic migrations of the accounts tables (applied by ``unigate db upgrade`` and on start)."""
