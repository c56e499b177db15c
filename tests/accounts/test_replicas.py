"""Two gateway replicas sharing PostgreSQL and Redis: a budget holds across them, spend is exact
to the cent, the ledger has one row per admitted request, and a replica killed with SIGKILL
mid-load leaves nothing corrupt — its reservations expire and the totals reconcile."""

from __future__ import annotations

import asyncio
import signal
import time

import asyncpg
import pytest

from tests.accounts.conftest import COST, MASTER, REDIS_URL, Admin, burst, chat, priced_model
from tests.support.fake_upstream import Mode

N = 10
NANO_COST = 10_000_000


def replica_config(pg_url: str, prefix: str, upstream_url: str, **accounts) -> dict:
    return {
        "server": {"master_key": MASTER},
        "models": [priced_model("priced", upstream_url)],
        "database_url": pg_url,
        "redis_url": REDIS_URL,
        "accounts": {"redis_prefix": prefix, "ledger_flush_interval": 0.2, **accounts},
    }


async def ledger_totals(pg_url: str, key_id: str) -> tuple[int, int, int]:
    conn = await asyncpg.connect(pg_url)
    try:
        count, total = await conn.fetchrow(
            "select count(*), coalesce(sum(cost_nusd), 0) from unigate_usage where key_id = $1", key_id
        )
        spent = await conn.fetchval("select spent_nusd from unigate_keys where id = $1", key_id)
        return int(count), int(total), int(spent)
    finally:
        await conn.close()


def wait_for(predicate, timeout: float = 15.0):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.1)


def test_two_replicas_admit_exactly_n_of_10n_and_spend_to_the_cent(start_gateway, make_upstream, pg_url, redis_prefix):
    upstream = make_upstream(Mode(prompt_tokens=10, completion_tokens=5, delay=0.02))
    config = replica_config(pg_url, redis_prefix, upstream.base_url)
    a, b = start_gateway(config), start_gateway(config)
    admin = Admin(a.url)
    key = admin.create_key(credit=N * COST)
    replies = asyncio.run(burst([a.url, b.url], key["key"], 10 * N))
    statuses = [getattr(r, "status_code", r) for r in replies]
    assert statuses.count(200) == N and statuses.count(402) == 9 * N, sorted(statuses)
    assert {r.headers["x-unigate-cost"] for r in replies if r.status_code == 200} == {"0.01"}
    for gateway in (a, b):  # both replicas see the same live balance
        credit = Admin(gateway.url).get(f"/admin/keys/{key['id']}")["balance"]["credit"]
        assert (credit["spent"], credit["reserved"], credit["remaining"]) == (pytest.approx(N * COST), 0, 0)
    totals = wait_for(lambda: (t := asyncio.run(ledger_totals(pg_url, key["id"])))[0] == N and t)
    assert totals == (N, N * NANO_COST, N * NANO_COST)
    assert round(admin.get("/admin/usage", key_id=key["id"])["total"]["cost"], 9) == N * COST
    # a key revoked through one replica stops working on the other within about a second
    other = admin.create_key(name="short-lived")
    assert chat(b.url, other["key"]).status_code == 200
    admin.client.delete(f"/admin/keys/{other['id']}")
    assert wait_for(lambda: chat(b.url, other["key"]).status_code == 401, timeout=3)


def test_kill_one_replica_mid_load_reservations_expire_and_totals_reconcile(
    start_gateway, make_upstream, pg_url, redis_prefix
):
    upstream = make_upstream(Mode(prompt_tokens=10, completion_tokens=5, delay=1.5))
    config = replica_config(pg_url, redis_prefix, upstream.base_url, reservation_ttl=3.0, queue_claim_idle=1.0)
    a, b = start_gateway(config), start_gateway(config)
    admin = Admin(b.url)
    key = admin.create_key(credit=1.0)  # room for 100 requests

    async def load() -> list:
        task = asyncio.ensure_future(burst([a.url, b.url], key["key"], 40))
        for _ in range(100):  # until every request is in flight: reserved, waiting on the upstream
            if len(upstream.chat_calls()) >= 40:
                break
            await asyncio.sleep(0.05)
        a.stop(signal.SIGKILL)
        return await task

    replies = asyncio.run(load())
    ok = sum(getattr(r, "status_code", None) == 200 for r in replies)
    assert ok == 20  # the survivor's half; the killed replica's requests died with it
    assert sum(isinstance(r, Exception) for r in replies) == 20
    # the dead replica's reservations are still held, then expire
    credit = admin.get(f"/admin/keys/{key['id']}")["balance"]["credit"]
    assert credit["reserved"] == pytest.approx(20 * COST)
    credit = wait_for(
        lambda: (c := admin.get(f"/admin/keys/{key['id']}")["balance"]["credit"])["reserved"] == 0 and c, 5
    )
    assert credit and credit["reserved"] == 0 and credit["spent"] == pytest.approx(ok * COST)
    totals = wait_for(lambda: (t := asyncio.run(ledger_totals(pg_url, key["id"])))[0] == ok and t)
    assert totals == (ok, ok * NANO_COST, ok * NANO_COST)
    # the surviving replica keeps serving and charging
    assert chat(b.url, key["key"]).status_code == 200
    assert Admin(b.url).get(f"/admin/keys/{key['id']}")["balance"]["credit"]["spent"] == pytest.approx((ok + 1) * COST)
