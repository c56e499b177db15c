"""The key cache of AccountsService on a real SQLite database: when a key's cached answer has
expired, the requests in flight for it share one database lookup (not one each), a failed
lookup fails each of them, and a change made meanwhile is not overwritten by the older read."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from unigate.accounts.db import create_engine, upgrade
from unigate.accounts.models import hash_secret, new_id, new_secret
from unigate.accounts.service import AccountsService, AccountsUnavailable
from unigate.accounts.store import Store
from unigate.config import AccountsConfig, GatewayConfig
from unigate.state.memory import MemoryState


class CountingStore(Store):
    """The real store, counting key lookups and able to hold them until released."""

    def __init__(self, engine: Any) -> None:
        super().__init__(engine)
        self.lookups = 0
        self.release = asyncio.Event()
        self.release.set()
        self.fail = False

    async def key_by_hash(self, secret_hash: str) -> Any:
        self.lookups += 1
        await self.release.wait()
        if self.fail:
            raise OSError("database away")
        return await super().key_by_hash(secret_hash)


async def _service(tmp_path: Path) -> tuple[AccountsService, CountingStore, str]:
    config = GatewayConfig.model_validate({"data_dir": str(tmp_path)})
    store = CountingStore(create_engine(config))
    await upgrade(store.engine)
    secret = new_secret()
    await store.insert_key(
        {"id": new_id("key"), "name": "k", "secret_hash": hash_secret(secret), "prefix": secret[:10]}
    )
    return AccountsService(AccountsConfig(key_cache_ttl=0), MemoryState(), store), store, secret


def test_concurrent_misses_share_one_lookup(tmp_path):
    async def run() -> tuple[list[Any], int]:
        service, store, secret = await _service(tmp_path)
        try:
            store.release.clear()
            waiting = [asyncio.ensure_future(service.principal_for(secret)) for _ in range(32)]
            await asyncio.sleep(0.05)
            store.release.set()
            principals = await asyncio.gather(*waiting)
            return principals, store.lookups
        finally:
            await store.aclose()

    principals, lookups = asyncio.run(run())
    assert lookups == 1
    assert all(p is not None and p.key_id == principals[0].key_id for p in principals)


def test_a_failed_shared_lookup_fails_every_waiter(tmp_path):
    async def run() -> list[Any]:
        service, store, secret = await _service(tmp_path)
        try:
            store.fail = True
            store.release.clear()
            waiting = [asyncio.ensure_future(service.principal_for(secret)) for _ in range(4)]
            await asyncio.sleep(0.05)
            store.release.set()
            return await asyncio.gather(*waiting, return_exceptions=True)
        finally:
            await store.aclose()

    outcomes = asyncio.run(run())
    assert len(outcomes) == 4 and all(isinstance(o, AccountsUnavailable) for o in outcomes)


def test_a_cancelled_waiter_leaves_the_lookup_to_the_others(tmp_path):
    async def run() -> Any:
        service, store, secret = await _service(tmp_path)
        try:
            store.release.clear()
            first = asyncio.ensure_future(service.principal_for(secret))
            second = asyncio.ensure_future(service.principal_for(secret))
            await asyncio.sleep(0.05)
            first.cancel()
            store.release.set()
            with pytest.raises(asyncio.CancelledError):
                await first
            return await second, store.lookups
        finally:
            await store.aclose()

    principal, lookups = asyncio.run(run())
    assert principal is not None and lookups == 1


def test_a_change_during_a_lookup_starts_a_fresh_one(tmp_path):
    async def run() -> int:
        service, store, secret = await _service(tmp_path)
        try:
            store.release.clear()
            before = asyncio.ensure_future(service.principal_for(secret))
            await asyncio.sleep(0.05)
            await service.changed()  # e.g. the key was revoked: later requests must read again
            after = asyncio.ensure_future(service.principal_for(secret))
            await asyncio.sleep(0.05)
            store.release.set()
            await asyncio.gather(before, after)
            return store.lookups
        finally:
            await store.aclose()

    assert asyncio.run(run()) == 2
