"""Fixtures for the accounts tests: a priced model on a fake upstream, admin helpers, and a
uniquely named PostgreSQL database + Redis key prefix per test session (dropped/flushed after)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.state.conftest import REDIS_URL, flush_prefix

PG_ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
MASTER = "sk-master-test"

# 5 output tokens at $2000/M = $0.01 per request; input is free, so the reservation of a
# request with max_tokens=5 equals its actual cost and a credit of N cents covers exactly N.
PRICED = {"input_per_mtok": 0.0, "output_per_mtok": 2000.0}
COST = 0.01


def priced_model(name: str, api_base: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "deployments": [{"provider": "openai", "model": name, "api_base": api_base, "api_key": "sk-up"}],
        "pricing": PRICED,
        **extra,
    }


class Admin:
    """The admin API of a running gateway, with the master key."""

    def __init__(self, url: str, master: str = MASTER) -> None:
        self.client = httpx.Client(base_url=url, headers={"authorization": f"Bearer {master}"}, timeout=30)

    def create_key(self, **fields: Any) -> dict[str, Any]:
        reply = self.client.post("/admin/keys", json={"name": "k", **fields})
        assert reply.status_code == 201, reply.text
        return reply.json()

    def get(self, path: str, **params: Any) -> dict[str, Any]:
        reply = self.client.get(path, params=params)
        assert reply.status_code == 200, reply.text
        return reply.json()

    def flush(self) -> None:
        assert self.client.post("/admin/usage/flush").status_code == 200


def chat(url: str, key: str, model: str = "priced", **extra: Any) -> httpx.Response:
    return httpx.post(
        f"{url}/v1/chat/completions",
        headers={"authorization": f"Bearer {key}"},
        json={"model": model, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5, **extra},
        timeout=30,
    )


async def burst(urls: list[str], key: str, count: int, **extra: Any) -> list[Any]:
    """``count`` concurrent chat requests spread round-robin over ``urls`` (an exception in place
    of a response whose connection died)."""
    limits = httpx.Limits(max_connections=count, max_keepalive_connections=count)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:

        async def one(i: int) -> httpx.Response:
            return await client.post(
                f"{urls[i % len(urls)]}/v1/chat/completions",
                headers={"authorization": f"Bearer {key}"},
                json={"model": "priced", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5, **extra},
            )

        return await asyncio.gather(*(one(i) for i in range(count)), return_exceptions=True)


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this session, dropped afterwards."""
    import asyncpg

    name = f"unigate_test_{uuid.uuid4().hex[:10]}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(PG_ADMIN_DSN)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    prefix = f"ugtest:{uuid.uuid4().hex[:8]}:"
    yield prefix
    asyncio.run(flush_prefix(REDIS_URL, prefix))


@pytest.fixture(scope="module")
def shared_upstream() -> Iterator[Any]:
    """One fake upstream for a whole module (fixed usage: 10 prompt + 5 completion tokens)."""
    from tests.support.fake_upstream import FakeUpstream, Mode, ThreadedUpstream

    upstream = ThreadedUpstream(FakeUpstream(default=Mode(prompt_tokens=10, completion_tokens=5)))
    yield upstream
    upstream.stop()


def module_gateway(tmp_path_factory: pytest.TempPathFactory, config: dict[str, Any]) -> Iterator[Any]:
    """A gateway process shared by the tests of one module (each test makes its own keys)."""
    from tests.support.gateway_process import GatewayProcess

    workdir = tmp_path_factory.mktemp("gateway")
    process = GatewayProcess(config={"local_model": {"enabled": False}, **config}, workdir=workdir)
    process.start()
    yield process
    process.stop()
