"""Stored responses: what ``store: true`` keeps, for ``previous_response_id`` and the
``GET`` / ``DELETE /v1/responses/{id}`` and ``/input_items`` routes.

Every read and delete is scoped by owner (the key that created the response): a response of
another key is indistinguishable from one that never existed. Rows expire after the configured
retention; expired rows are invisible at once and deleted on start-up and hourly.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncEngine

from unigate.responses.schema import responses

VERSION_TABLE = "unigate_responses_version"
MIGRATIONS = Path(__file__).parent / "migrations"
PURGE_EVERY = 3600.0


class ResponseStore:
    def __init__(self, engine: AsyncEngine, retention_seconds: float) -> None:
        self.engine = engine
        self.retention = retention_seconds
        self._next_purge = 0.0

    async def migrate(self) -> None:
        from unigate.accounts.db import upgrade

        await upgrade(self.engine, migrations=MIGRATIONS, version_table=VERSION_TABLE)
        await self.purge()

    async def aclose(self) -> None:
        await self.engine.dispose()

    async def save(
        self,
        response: dict[str, Any],
        owner: str,
        input_items: list[dict[str, Any]],
        previous_response_id: str | None,
    ) -> None:
        now = time.time()
        async with self.engine.begin() as conn:
            await conn.execute(
                responses.insert().values(
                    id=response["id"],
                    owner=owner,
                    model=str(response.get("model") or ""),
                    created_at=now,
                    expires_at=now + self.retention,
                    previous_response_id=previous_response_id,
                    input_items=input_items,
                    response=response,
                )
            )
        if now >= self._next_purge:
            await self.purge()

    async def get(self, response_id: str, owner: str) -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
        """(response object, input items) of a live response of ``owner``; ``None`` otherwise."""
        query = select(responses.c.response, responses.c.input_items).where(
            responses.c.id == response_id,
            responses.c.owner == owner,
            responses.c.expires_at > time.time(),
        )
        async with self.engine.connect() as conn:
            row = (await conn.execute(query)).first()
        if row is None:
            return None
        return dict(row.response), list(row.input_items)

    async def delete(self, response_id: str, owner: str) -> bool:
        async with self.engine.begin() as conn:
            result = await conn.execute(
                delete(responses).where(responses.c.id == response_id, responses.c.owner == owner)
            )
        return bool(result.rowcount)

    async def purge(self) -> int:
        now = time.time()
        self._next_purge = now + PURGE_EVERY
        async with self.engine.begin() as conn:
            result = await conn.execute(delete(responses).where(responses.c.expires_at <= now))
        return int(result.rowcount or 0)
