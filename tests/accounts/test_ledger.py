"""The ledger is never stuck and never fatal: rows are fitted to their table, a row the database
refuses is quarantined instead of failing its batch, and start-up does not depend on a flush."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from tests.accounts.conftest import MASTER, Admin, priced_model
from unigate.accounts.db import create_engine, upgrade
from unigate.accounts.ledger import QUEUE, LedgerFlusher
from unigate.accounts.models import hash_secret
from unigate.accounts.store import Store
from unigate.config import GatewayConfig
from unigate.state.memory import MemoryState


def _row(key_id: str, cost: int, **extra: Any) -> dict[str, Any]:
    return {
        "request_id": uuid.uuid4().hex,
        "ts": 1.7e9,
        "day": "2023-11-14",
        "key_id": key_id,
        "team_id": None,
        "model": "m",
        "deployment": "m",
        "provider": "openai",
        "endpoint": "chat",
        "stream": False,
        "input_tokens": 1,
        "cached_tokens": 0,
        "output_tokens": 1,
        "reasoning_tokens": 0,
        "cost_nusd": cost,
        "latency_ms": 1.0,
        "ttft_ms": None,
        "status": "ok",
        "error_class": None,
        **extra,
    }


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    if request.param == "sqlite":
        return None
    return request.getfixturevalue("pg_url")


async def test_a_refused_row_is_quarantined_and_the_rest_are_written(database_url, tmp_path: Path):
    config = GatewayConfig.model_validate({"database_url": database_url, "data_dir": str(tmp_path)})
    store = Store(create_engine(config))
    await upgrade(store.engine)
    key_id = "key_" + uuid.uuid4().hex[:12]
    await store.insert_key(
        {"id": key_id, "name": "k", "secret_hash": hash_secret(key_id), "prefix": "sk", "credit_nusd": 100}
    )
    state = MemoryState(tmp_path / "journal")
    good = _row(key_id, 1)
    long_name = _row(key_id, 10, model="m" * 250, deployment="d" * 250)  # poisoned every flush on PostgreSQL
    huge = _row(key_id, 100, input_tokens=10**12)  # an upstream's absurd count: an int4 column
    poison = _row(key_id, 1000, latency_ms={"not": "a number"})  # nothing can fit this into the table
    for row in (good, long_name, huge, poison):
        await state.settle("h", record=(QUEUE, orjson.dumps(row)))
    await state.settle("h", record=(QUEUE, b'{"torn": '))
    flusher = LedgerFlusher(state, store, "c", interval=60, batch=100)
    await flusher.flush()
    assert await state.queue_len(QUEUE) == 0  # nothing stuck
    assert (flusher.written, flusher.quarantined) == (3, 2)
    rows, totals = await store.usage({"key_id": key_id}, None)
    assert totals["requests"] == 3 and {len(r["model"]) for r in rows} == {1, 200}
    assert max(r["input_tokens"] for r in rows) == 2**31 - 1
    kept = await store.quarantined()
    assert {k["request_id"] for k in kept} >= {poison["request_id"]}
    assert any("torn" in k["record"] for k in kept)
    # the quarantined charge still counts: the durable spend is every settled cost
    assert (await store.key(key_id)).spent_nusd == 1 + 10 + 100 + 1000
    await state.aclose()
    await store.aclose()


async def test_one_batch_over_many_keys_adds_each_key_and_team_its_own_spend(database_url, tmp_path: Path):
    config = GatewayConfig.model_validate({"database_url": database_url, "data_dir": str(tmp_path)})
    store = Store(create_engine(config))
    await upgrade(store.engine)
    team_ids = ["team_" + uuid.uuid4().hex[:12] for _ in range(2)]
    for team_id in team_ids:
        await store.insert_team({"id": team_id, "name": team_id})
    key_ids = ["key_" + uuid.uuid4().hex[:12] for _ in range(40)]
    for n, key_id in enumerate(key_ids):
        team_id = team_ids[n % 2]
        values = {"id": key_id, "name": "k", "secret_hash": hash_secret(key_id), "prefix": "sk", "team_id": team_id}
        await store.insert_key(values)
    # each key i is charged i+1 twice in the batch (and key 0 once more at no cost)
    rows = [_row(key_id, n + 1, team_id=team_ids[n % 2]) for n, key_id in enumerate(key_ids)] * 2
    rows = [{**row, "request_id": uuid.uuid4().hex} for row in rows] + [_row(key_ids[0], 0)]
    assert await store.insert_usage(rows) == len(rows)
    for n, key_id in enumerate(key_ids):
        assert (await store.key(key_id)).spent_nusd == 2 * (n + 1)
    for t, team_id in enumerate(team_ids):
        assert (await store.team(team_id)).spent_nusd == sum(2 * (n + 1) for n in range(t, 40, 2))
    await store.aclose()


def test_a_model_name_longer_than_the_ledger_column_is_a_400_naming_model(start_gateway, make_upstream):
    upstream = make_upstream()
    gateway = start_gateway(
        {
            "server": {"master_key": MASTER},
            "providers": {"openai": {"api_base": upstream.base_url, "api_key": "sk-up"}},
            "models": [priced_model("priced", upstream.base_url)],
        }
    )
    reply = httpx.post(
        f"{gateway.url}/v1/chat/completions",
        headers={"authorization": f"Bearer {MASTER}"},
        json={"model": "openai/" + "x" * 250, "messages": [{"role": "user", "content": "hi"}]},
        timeout=30,
    )
    assert reply.status_code == 400 and reply.json()["error"]["param"] == "model"
    assert not upstream.chat_calls()


def test_start_up_survives_a_journal_the_database_refused(start_gateway, make_upstream, pg_url, tmp_path):
    """A journal holding a row PostgreSQL could not take (a 250-character model name, written
    before names were checked) used to stop the gateway from starting."""
    journal = tmp_path / "data" / "journal"
    journal.mkdir(parents=True)
    rows = [_row(None, 5, model="openai/" + "x" * 250), _row(None, 0, latency_ms="poison")]
    (journal / "ledger.00000000.journal").write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    upstream = make_upstream()
    gateway = start_gateway(
        {
            "server": {"master_key": MASTER},
            "database_url": pg_url,
            "models": [priced_model("priced", upstream.base_url)],
        }
    )
    admin = Admin(gateway.url)
    admin.flush()
    found = admin.get("/admin/usage", model="openai/" + "x" * 193)["data"]
    assert [r["request_id"] for r in found] == [rows[0]["request_id"]]
    assert list(journal.glob("*.journal")) == [] or all(not p.read_bytes() for p in journal.glob("*.journal"))
