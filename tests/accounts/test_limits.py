"""Rate limits (RPM, TPM, concurrency; per key, team and model), team credit and period budgets,
and crash safety of the single-process ledger — against a real gateway process."""

from __future__ import annotations

import asyncio
import signal
import sqlite3

import pytest

from tests.accounts.conftest import COST, MASTER, Admin, burst, chat, module_gateway, priced_model
from tests.support.fake_upstream import Mode


@pytest.fixture(scope="module")
def upstream(shared_upstream):
    return shared_upstream


@pytest.fixture(scope="module")
def gateway(tmp_path_factory, upstream):
    yield from module_gateway(
        tmp_path_factory,
        {
            "server": {"master_key": MASTER},
            "models": [priced_model("priced", upstream.base_url), priced_model("capped", upstream.base_url)],
            "accounts": {"model_limits": {"capped": {"rpm": 2}}},
        },
    )


def test_burst_over_rpm_gets_429_with_the_reset_time_and_under_it_none(gateway):
    admin = Admin(gateway.url)
    under = admin.create_key(name="under", rpm=10)
    assert [r.status_code for r in asyncio.run(burst([gateway.url], under["key"], 10))] == [200] * 10
    over = admin.create_key(name="over", rpm=5)
    replies = asyncio.run(burst([gateway.url], over["key"], 12))
    statuses = sorted(r.status_code for r in replies)
    assert statuses == [200] * 5 + [429] * 7
    for reply in replies:
        if reply.status_code == 429:
            error = reply.json()["error"]
            assert error["type"] == "rate_limit_error" and "5 requests per minute" in error["message"]
            # the window is a minute and all five admitted requests are in its newest second
            assert 58 <= int(reply.headers["retry-after"]) <= 60
            assert 57.0 <= float(reply.headers["x-ratelimit-reset"].rstrip("s")) <= 60.0


def test_tpm_counts_actual_tokens(gateway):
    key = Admin(gateway.url).create_key(name="tokens", tpm=30)  # a request uses 15 tokens
    assert chat(gateway.url, key["key"]).status_code == 200
    assert chat(gateway.url, key["key"]).status_code == 200
    refused = chat(gateway.url, key["key"])
    assert refused.status_code == 429 and "30 tokens per minute" in refused.json()["error"]["message"]


def test_concurrency_limit(gateway, upstream):
    key = Admin(gateway.url).create_key(name="conc", max_concurrency=2)
    upstream.upstream.default = Mode(prompt_tokens=10, completion_tokens=5, delay=0.5)
    try:
        statuses = sorted(r.status_code for r in asyncio.run(burst([gateway.url], key["key"], 6)))
    finally:
        upstream.upstream.default = Mode(prompt_tokens=10, completion_tokens=5)
    assert statuses == [200, 200, 429, 429, 429, 429]
    assert chat(gateway.url, key["key"]).status_code == 200  # slots are released after each request


def test_model_rate_limit_applies_to_every_caller(gateway):
    results = [chat(gateway.url, MASTER, model="capped").status_code for _ in range(3)]
    assert results == [200, 200, 429]
    assert chat(gateway.url, MASTER, model="priced").status_code == 200


def test_team_credit_is_shared_by_its_keys(gateway):
    admin = Admin(gateway.url)
    team = admin.client.post("/admin/teams", json={"name": "eng", "credit": 3 * COST, "rpm": 100}).json()
    a = admin.create_key(name="a", team_id=team["id"])
    b = admin.create_key(name="b", team_id=team["id"])
    replies = asyncio.run(burst([gateway.url], a["key"], 5)) + asyncio.run(burst([gateway.url], b["key"], 5))
    assert sum(r.status_code == 200 for r in replies) == 3
    refused = next(r for r in replies if r.status_code == 402).json()["error"]
    assert "team 'eng'" in refused["message"] and refused["param"] == "team"
    view = admin.get(f"/admin/teams/{team['id']}")
    assert view["balance"]["credit"]["spent"] == pytest.approx(3 * COST)
    admin.client.post(f"/admin/teams/{team['id']}/topup", json={"amount": COST})
    assert chat(gateway.url, b["key"]).status_code == 200


def test_daily_budget_says_when_it_resets(gateway):
    key = Admin(gateway.url).create_key(name="daily", budget=2 * COST, budget_period="day")
    assert [chat(gateway.url, key["key"]).status_code for _ in range(2)] == [200, 200]
    refused = chat(gateway.url, key["key"])
    assert refused.status_code == 402
    error = refused.json()["error"]
    assert error["code"] == "budget_exceeded" and "dayly" not in error["message"]
    assert "resets at" in error["message"] and 0 < int(refused.headers["retry-after"]) <= 86400


def test_killed_single_process_loses_no_settled_charge_and_restart_does_not_double_count(
    start_gateway, upstream, tmp_path
):
    config = {
        "server": {"master_key": MASTER},
        "models": [priced_model("priced", upstream.base_url)],
        "accounts": {"ledger_flush_interval": 3600},  # nothing is written before the kill
    }
    first = start_gateway(config)
    key = Admin(first.url).create_key(name="crash", credit=5 * COST)
    assert [chat(first.url, key["key"]).status_code for _ in range(3)] == [200] * 3
    first.stop(signal.SIGKILL)
    database = tmp_path / "data" / "unigate.db"
    assert sqlite3.connect(database).execute("select count(*) from unigate_usage").fetchone()[0] == 0
    for _ in range(2):  # the journal is written on start; a second restart changes nothing
        again = start_gateway(config)
        credit = Admin(again.url).get(f"/admin/keys/{key['id']}")["balance"]["credit"]
        assert credit["spent"] == pytest.approx(3 * COST) and credit["remaining"] == pytest.approx(2 * COST)
        db = sqlite3.connect(database)
        assert db.execute("select count(*), sum(cost_nusd) from unigate_usage").fetchone() == (3, 30_000_000)
        assert db.execute("select spent_nusd from unigate_keys").fetchone()[0] == 30_000_000
        again.stop()
