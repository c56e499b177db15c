"""Stored responses on real SQLite and PostgreSQL: migrations, owner scoping, retention."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from tests.accounts.conftest import pg_url  # noqa: F401  (the fixture)
from unigate.accounts.db import create_engine
from unigate.responses.store import ResponseStore

RESPONSE = {"id": "resp_1", "object": "response", "model": "m", "output": [{"type": "message", "content": []}]}
ITEMS = [{"id": "msg_1", "type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}]


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'unigate.db'}"
    else:
        yield request.getfixturevalue("pg_url")


def store(url: str, retention: float) -> ResponseStore:
    return ResponseStore(create_engine(SimpleNamespace(database_url=url, data_dir=".")), retention)


def test_owner_scoping_and_delete(database_url: str) -> None:
    async def go() -> None:
        responses = store(database_url, 3600)
        try:
            await responses.migrate()
            await responses.migrate()  # idempotent
            await responses.save(RESPONSE, "key_a", ITEMS, None)
            assert await responses.get("resp_1", "key_a") == (RESPONSE, ITEMS)
            assert await responses.get("resp_1", "key_b") is None
            assert await responses.delete("resp_1", "key_b") is False
            assert await responses.get("resp_1", "key_a") is not None
            assert await responses.delete("resp_1", "key_a") is True
            assert await responses.get("resp_1", "key_a") is None
        finally:
            await responses.aclose()

    asyncio.run(go())


def test_expired_responses_are_invisible_and_purged(database_url: str) -> None:
    async def go() -> None:
        responses = store(database_url, -1.0)  # already past its retention when written
        try:
            await responses.migrate()
            await responses.save({**RESPONSE, "id": "resp_old"}, "key_a", ITEMS, None)
            assert await responses.get("resp_old", "key_a") is None
            assert await responses.purge() == 1
        finally:
            await responses.aclose()

    asyncio.run(go())
