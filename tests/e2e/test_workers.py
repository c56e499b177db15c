"""`unigate serve --workers 2` with no Redis: two real worker processes on one real port share
one state (hosted by their parent, unigate/state/host.py). Many keys hammer a rate limit and a
budget from both workers at once and the totals are exact; a cooldown one worker opens is seen
by the other.

Which worker holds a connection is read from the kernel (/proc/net/tcp and each worker's open
file descriptors), so the test knows it drove both."""

from __future__ import annotations

import http.client
import json
import os
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.support.fake_upstream import FakeUpstream, Mode, ThreadedUpstream
from tests.support.gateway_process import GatewayProcess

MASTER = "sk-master-workers"
PRICE = 1000.0  # USD per 1M tokens, in and out: 10 + 5 tokens = $0.015 a request
COST = 0.015

pytestmark = pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="reads /proc to tell the workers apart")


@pytest.fixture(scope="module")
def upstream() -> Iterator[ThreadedUpstream]:
    fake = ThreadedUpstream(FakeUpstream(default=Mode(prompt_tokens=10, completion_tokens=5)))
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def gateway(upstream: ThreadedUpstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    pricing = {"input_per_mtok": PRICE, "output_per_mtok": PRICE}
    config = {
        "server": {"master_key": MASTER},
        "local_model": {"enabled": False},
        "discover_providers": False,
        "models": [
            {
                "name": name,
                "deployments": [{"provider": "openai", "model": name, "api_base": upstream.base_url, "api_key": "k"}],
                "pricing": pricing,
            }
            for name in ("m", "flaky")
        ],
        "accounts": {"ledger_flush_interval": 0.2},
    }
    process = GatewayProcess(config=config, workdir=tmp_path_factory.mktemp("workers"), args=["--workers", "2"])
    process.start()
    yield process
    process.stop()


def _workers(parent: int) -> list[int]:
    """The uvicorn worker processes of ``parent`` (not multiprocessing's helpers)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            command = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == parent and b"spawn_main" in command:
            found.append(int(entry))
    return found


def _owner(server_port: int, client_port: int, workers: list[int]) -> int | None:
    """The worker holding the server side of the loopback connection from ``client_port``."""
    inode = None
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote = fields[1].split(":"), fields[2].split(":")
        if int(local[1], 16) == server_port and int(remote[1], 16) == client_port:
            inode = fields[9]
    if inode is None:
        return None
    target = f"socket:[{inode}]"
    for pid in workers:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}") == target:
                    return pid
            except OSError:
                continue
    return None


class Client:
    """One keep-alive connection, known to be served by ``worker``."""

    def __init__(self, port: int) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.connection.connect()
        self.worker: int | None = None

    def call(self, method: str, path: str, key: str, body: Any = None) -> tuple[int, Any]:
        headers = {"authorization": f"Bearer {key}", "content-type": "application/json"}
        self.connection.request(method, path, body=None if body is None else json.dumps(body), headers=headers)
        reply = self.connection.getresponse()
        data = reply.read()
        return reply.status, json.loads(data) if data else None


@pytest.fixture(scope="module")
def clients(gateway: GatewayProcess) -> Iterator[dict[int, list[Client]]]:
    """Keep-alive connections grouped by the worker that accepted them (at least 4 on each)."""
    assert gateway.proc is not None
    deadline = time.monotonic() + 30
    workers: list[int] = []
    while len(workers) < 2 and time.monotonic() < deadline:
        workers = _workers(gateway.proc.pid)
        time.sleep(0.1)
    assert len(workers) == 2, workers
    by_worker: dict[int, list[Client]] = {pid: [] for pid in workers}
    opened: list[Client] = []
    while min(len(c) for c in by_worker.values()) < 4 and len(opened) < 200:
        client = Client(gateway.port)
        opened.append(client)
        assert client.call("GET", "/health/live", MASTER)[0] == 200  # accepted and served
        client.worker = _owner(gateway.port, client.connection.sock.getsockname()[1], workers)
        if client.worker is not None:
            by_worker[client.worker].append(client)
    assert min(len(c) for c in by_worker.values()) >= 4, {pid: len(c) for pid, c in by_worker.items()}
    yield by_worker
    for client in opened:
        client.connection.close()


def _admin(clients: dict[int, list[Client]], method: str, path: str, body: Any = None) -> Any:
    status, data = next(iter(clients.values()))[0].call(method, path, MASTER, body)
    assert status in (200, 201), data
    return data


def _chat(model: str = "m", mode: dict[str, Any] | None = None) -> dict[str, Any]:
    messages = [{"role": "user", "content": "hi"}]
    if mode is not None:
        messages.insert(0, {"role": "system", "content": "@mode " + json.dumps(mode)})
    return {"model": model, "messages": messages, "max_tokens": 5}


def _hammer(clients: dict[int, list[Client]], keys: list[str], per_key: int) -> dict[str, Counter[int]]:
    """``per_key`` requests for every key, on every connection of both workers at once."""
    connections = [client for group in clients.values() for client in group]
    jobs = [keys[n % len(keys)] for n in range(per_key * len(keys))]
    shares = [jobs[i :: len(connections)] for i in range(len(connections))]

    def run(client: Client, share: list[str]) -> list[tuple[str, int]]:
        return [(key, client.call("POST", "/v1/chat/completions", key, _chat())[0]) for key in share]

    outcome: dict[str, Counter[int]] = {key: Counter() for key in keys}
    with ThreadPoolExecutor(len(connections)) as pool:
        for results in pool.map(run, connections, shares):
            for key, status in results:
                outcome[key][status] += 1
    return outcome


def test_a_rate_limit_is_exact_across_workers(clients: dict[int, list[Client]]) -> None:
    keys = [_admin(clients, "POST", "/admin/keys", {"name": f"rpm{n}", "rpm": 7})["key"] for n in range(6)]
    outcome = _hammer(clients, keys, per_key=16)
    for key in keys:  # one process each would have let up to 14 through
        assert outcome[key] == Counter({200: 7, 429: 9}), outcome[key]


def test_a_budget_is_exact_across_workers_and_the_ledger_has_every_request(
    clients: dict[int, list[Client]],
) -> None:
    created = [_admin(clients, "POST", "/admin/keys", {"name": f"c{n}", "credit": 0.1}) for n in range(6)]
    outcome = _hammer(clients, [c["key"] for c in created], per_key=16)
    for key in created:
        served = outcome[key["key"]][200]
        assert served and outcome[key["key"]][200] < 16, outcome[key["key"]]  # the credit ran out
        deadline = time.monotonic() + 30
        while True:
            _admin(clients, "POST", "/admin/usage/flush")
            usage = _admin(clients, "GET", f"/admin/usage?key_id={key['id']}&limit=100")
            info = _admin(clients, "GET", f"/admin/keys/{key['id']}")
            credit = info["balance"]["credit"]
            if (usage["total"]["requests"] >= served and not credit["reserved"]) or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        spent = float(credit["spent"])
        assert spent <= 0.1 + 1e-9  # two processes with a budget each would have spent up to 0.2
        assert spent == pytest.approx(served * COST)
        assert usage["total"]["requests"] == served  # one ledger row per request, none twice
        assert float(usage["total"]["cost"]) == pytest.approx(spent)


def test_a_cooldown_opened_in_one_worker_is_seen_by_the_other(
    clients: dict[int, list[Client]], upstream: ThreadedUpstream
) -> None:
    one, two = (group[0] for group in clients.values())
    trip = {"kind": "status", "status": 429, "retry_after": 60, "message": "slow down"}
    status, _ = one.call("POST", "/v1/chat/completions", MASTER, _chat("flaky", trip))
    assert status == 429
    deadline = time.monotonic() + 10
    while True:  # pushed to the other worker one socket hop later
        status, ready = two.call("GET", "/health/ready", MASTER)
        states = {d["model"]: d["state"] for d in ready["deployments"]}
        if states["flaky"] == "cooling_down" or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert states == {"m": "healthy", "flaky": "cooling_down"}
    calls = len(upstream.chat_calls())
    status, body = two.call("POST", "/v1/chat/completions", MASTER, _chat("flaky"))
    assert len(upstream.chat_calls()) == calls + 1  # its only deployment: still tried (deferred), once
    assert status == 200, body
