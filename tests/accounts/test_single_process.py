"""One gateway process on the zero-config defaults (SQLite + in-process state): budgets hold
under concurrency, spend is exact, the ledger has one row per request."""

from __future__ import annotations

import asyncio
import sqlite3

import pytest

from tests.accounts.conftest import COST, MASTER, Admin, burst, chat, priced_model
from tests.support.fake_upstream import Mode

N = 10


@pytest.fixture
def gateway(start_gateway, make_upstream):
    upstream = make_upstream(Mode(prompt_tokens=10, completion_tokens=5, delay=0.02))
    return start_gateway({"server": {"master_key": MASTER}, "models": [priced_model("priced", upstream.base_url)]})


def test_credit_for_n_requests_admits_exactly_n_of_10n_concurrent(gateway, tmp_path):
    admin = Admin(gateway.url)
    key = admin.create_key(credit=N * COST)
    replies = asyncio.run(burst([gateway.url], key["key"], 10 * N))
    statuses = sorted(r.status_code for r in replies)
    assert statuses.count(200) == N, statuses
    assert statuses.count(402) == 9 * N
    refused = next(r for r in replies if r.status_code == 402).json()["error"]
    assert refused["type"] == "insufficient_quota" and refused["code"] == "insufficient_credit"
    info = admin.get(f"/admin/keys/{key['id']}")
    assert info["balance"]["credit"]["spent"] == pytest.approx(N * COST, abs=1e-12)
    assert info["balance"]["credit"]["remaining"] == 0 and info["balance"]["credit"]["reserved"] == 0
    admin.flush()
    usage = admin.get("/admin/usage", key_id=key["id"])
    assert usage["total"]["requests"] == N
    assert round(usage["total"]["cost"], 9) == round(N * COST, 9)
    # the durable rows, straight from the SQLite file
    db = sqlite3.connect(tmp_path / "data" / "unigate.db")
    count, total = db.execute(
        "select count(*), sum(cost_nusd) from unigate_usage where key_id = ?", (key["id"],)
    ).fetchone()
    assert (count, total) == (N, N * 10_000_000)
    assert db.execute("select spent_nusd from unigate_keys where id = ?", (key["id"],)).fetchone()[0] == N * 10_000_000
    # a top-up admits more
    assert admin.client.post(f"/admin/keys/{key['id']}/topup", json={"amount": COST}).status_code == 200
    assert chat(gateway.url, key["key"]).status_code == 200
    assert chat(gateway.url, key["key"]).status_code == 402


def test_streamed_requests_are_charged_and_ledgered(gateway):
    admin = Admin(gateway.url)
    key = admin.create_key(credit=3 * COST)
    for include_usage in (True, False):  # the gateway asks upstream for usage either way
        reply = chat(gateway.url, key["key"], stream=True, stream_options={"include_usage": include_usage})
        assert reply.status_code == 200 and reply.text.rstrip().endswith("data: [DONE]")
    credit = admin.get(f"/admin/keys/{key['id']}")["balance"]["credit"]
    assert credit["spent"] == pytest.approx(2 * COST) and credit["reserved"] == 0
    admin.flush()
    rows = admin.get("/admin/usage", key_id=key["id"])["data"]
    assert [(r["stream"], r["output_tokens"], r["status"]) for r in rows] == [(True, 5, "ok")] * 2
