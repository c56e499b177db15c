"""The database or Redis goes away under load, then comes back: nothing is lost, the gateway
keeps answering the keys it knows (database away) or refuses with a clear 503 (Redis away:
budgets cannot be checked), and the backlog drains after.

Each service is reached through a proxy the test cuts (the shared servers stay up).
``UNIGATE_OUTAGE_SECONDS`` sets how long each outage lasts (default 15; the report used 60).
"""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from typing import Any

import httpx
import pytest

from tests.accounts.conftest import COST, MASTER, Admin, priced_model
from tests.state.conftest import REDIS_URL
from tests.support.fake_upstream import Mode
from tests.support.tcp_proxy import CuttableProxy

OUTAGE = float(os.environ.get("UNIGATE_OUTAGE_SECONDS", "15"))


class Load:
    """Two clients sending requests back to back until stopped; every status is kept."""

    def __init__(self, url: str, key: str) -> None:
        self.url, self.key = url, key
        self.statuses: Counter[int] = Counter()
        self.bodies: dict[int, str] = {}
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(2)]

    def _run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=60) as client:
            while not self._stop.is_set():
                try:
                    reply = client.post(
                        "/v1/chat/completions",
                        headers={"authorization": f"Bearer {self.key}"},
                        json={"model": "priced", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5},
                    )
                except httpx.HTTPError as exc:
                    self.statuses[-1] += 1
                    self.bodies[-1] = repr(exc)
                    continue
                self.statuses[reply.status_code] += 1
                self.bodies.setdefault(reply.status_code, reply.text)
                if reply.status_code == 503:
                    time.sleep(0.05)

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(60)


def _drained(admin: Admin, key_id: str, served: int) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while True:
        try:
            admin.flush()
            usage = admin.get("/admin/usage", key_id=key_id)["total"]
            if usage["requests"] >= served or time.monotonic() > deadline:
                return usage
        except AssertionError:
            if time.monotonic() > deadline:
                raise
        time.sleep(0.5)


@pytest.fixture
def pg_proxy(pg_url):
    proxy = CuttableProxy("127.0.0.1", 5432)
    yield proxy, pg_url.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")
    proxy.stop()


def test_database_away_under_load_loses_nothing(start_gateway, make_upstream, pg_proxy):
    proxy, url = pg_proxy
    upstream = make_upstream(Mode(prompt_tokens=10, completion_tokens=5, delay=0.02))
    gateway = start_gateway(
        {"server": {"master_key": MASTER}, "database_url": url, "models": [priced_model("priced", upstream.base_url)]}
    )
    admin = Admin(gateway.url)
    key = admin.create_key(credit=100_000 * COST)
    assert httpx.post(  # the key is known to this process before the outage
        f"{gateway.url}/v1/chat/completions",
        headers={"authorization": f"Bearer {key['key']}"},
        json={"model": "priced", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5},
        timeout=30,
    ).is_success
    with Load(gateway.url, key["key"]) as load:
        time.sleep(1)
        proxy.cut()
        during = Counter(load.statuses)
        time.sleep(OUTAGE)
        during = load.statuses - during
        stranger = httpx.post(
            f"{gateway.url}/v1/chat/completions",
            headers={"authorization": "Bearer sk-ug-not-a-key-this-process-has-seen"},
            json={"model": "priced", "messages": [{"role": "user", "content": "hi"}]},
            timeout=30,
        )
        proxy.restore()
        time.sleep(2)
    assert set(load.statuses) <= {200}, (load.statuses, load.bodies)
    assert during[200] > 0  # it kept answering the keys it knows
    assert stranger.status_code == 503 and stranger.json()["error"]["code"] == "accounts_unavailable"
    served = load.statuses[200] + 1
    usage = _drained(admin, key["id"], served)
    print(
        f"database away {OUTAGE:g} s: statuses {dict(load.statuses)}, {during[200]} answered during the outage, "
        f"ledger rows {usage['requests']} for {served} served"
    )
    assert usage["requests"] == served  # one row per charge, none lost
    credit = admin.get(f"/admin/keys/{key['id']}")["balance"]["credit"]
    assert credit["spent"] == pytest.approx(served * COST) == pytest.approx(usage["cost"])


@pytest.fixture
def redis_proxy(redis_prefix):
    host, port = REDIS_URL.split("//", 1)[1].split(":")
    proxy = CuttableProxy(host, int(port.split("/")[0]))
    yield proxy, f"redis://127.0.0.1:{proxy.port}/0"
    proxy.stop()


def test_redis_away_under_load_loses_nothing(start_gateway, make_upstream, redis_proxy, redis_prefix):
    proxy, url = redis_proxy
    upstream = make_upstream(Mode(prompt_tokens=10, completion_tokens=5, delay=0.05))
    gateway = start_gateway(
        {
            "server": {"master_key": MASTER},
            "redis_url": url,
            # a reservation whose admission reply was lost with the connection expires after this
            "accounts": {"redis_prefix": redis_prefix, "reservation_ttl": 3},
            "models": [priced_model("priced", upstream.base_url)],
        }
    )
    admin = Admin(gateway.url)
    key = admin.create_key(credit=100_000 * COST)
    with Load(gateway.url, key["key"]) as load:
        time.sleep(1)
        proxy.cut()  # requests in flight now settle while Redis is away
        time.sleep(OUTAGE)
        proxy.restore()
        time.sleep(3)
    assert set(load.statuses) <= {200, 503}, (load.statuses, load.bodies)
    assert load.statuses[503] > 0 and "cannot be checked" in load.bodies[503]
    served = load.statuses[200]
    usage = _drained(admin, key["id"], served)
    print(
        f"Redis away {OUTAGE:g} s: statuses {dict(load.statuses)}, ledger rows {usage['requests']} for {served} served"
    )
    assert usage["requests"] == served
    deadline = time.monotonic() + 30
    while (credit := admin.get(f"/admin/keys/{key['id']}")["balance"]["credit"])["reserved"] and (
        time.monotonic() < deadline
    ):
        time.sleep(0.5)
    assert credit["spent"] == pytest.approx(served * COST) == pytest.approx(usage["cost"])
    assert credit["reserved"] == 0
