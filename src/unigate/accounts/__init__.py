"""Virtual keys, teams, budgets (reserve → settle), rate limits and the usage ledger.

Durable records (keys, teams, ledger) live in SQL (``store``: SQLite by default, PostgreSQL for
clusters, Alembic migrations in ``migrations/``); everything that must agree across replicas at
request time (windows, reservations, spend counters) lives in ``unigate.state``.
"""
