"""The gateway's own cost per request, without sockets, feature by feature: the ASGI app is
called directly and the provider is replaced by one that answers from memory. What is left is
exactly what unigate adds on top of the HTTP server and client (parse, validate, auth, route,
hooks, serialize), plus the background work a request causes (ledger rows written to SQLite,
request-log lines formatted by the writer thread), which runs inside the timed region.

    .venv/bin/python benchmarks/hot_path.py                   # the table: µs per request per feature
    .venv/bin/python benchmarks/hot_path.py --profile all     # cProfile of one row (JSON, then stream)

One app is built with every default feature on (virtual keys, accounts, the SQLite ledger,
metrics, the request log, auto routing), then the features are switched on one at a time:

    none        no hooks, no credential (the anonymous loopback admin)
    +auth       a virtual key resolved by the key cache
    +budget     the accounts hook: a key with a monthly budget (reservation before, settlement
                after), the ledger record built but kept in memory (no journal, no database)
    +ledger     the record journaled on settle and written to SQLite by the flusher
    +metrics    the observability hook: Prometheus metrics and the dashboard's series
    +log        the JSON request log (to /dev/null, through its writer thread)
    +others     the surfaces' own hooks (audio check, moderation guard, batch gauge) and the
                auto-routing hook (= every default feature: ``all``)

"wall" is elapsed time per request; "cpu" is the process's CPU time per request (every thread:
the log writer's and the database driver's too). Each row is the best of ``--rounds`` runs,
rows interleaved, since this machine is shared.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import orjson

from unigate.accounts.hook import Accountant
from unigate.config import validate
from unigate.observability.hook import ObservabilityHook
from unigate.observability.logs import LogSetup
from unigate.server import create_app
from unigate.server.auth import MasterKeyAuthenticator
from unigate.state.memory import MemoryState
from unigate.types import make_chunk, make_response, make_usage

MASTER_KEY = "sk-bench-master"
REQUEST = orjson.dumps(
    {
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": "What is the capital of France?"}],
        "max_tokens": 64,
    }
)
STREAM_REQUEST = orjson.dumps({**orjson.loads(REQUEST), "stream": True, "stream_options": {"include_usage": True}})
WORDS = ["Paris", " is", " the", " capital", " of", " France", "."]
ROWS = ("none", "+auth", "+budget", "+ledger", "+metrics", "+log", "+others")


class MemoryProvider:
    name = "openai"

    async def chat(self, request: dict[str, Any], deployment: Any) -> dict[str, Any]:
        message = {"role": "assistant", "content": "".join(WORDS)}
        return make_response(deployment.public_name, message, "stop", make_usage(24, 22))

    async def chat_stream(self, request: dict[str, Any], deployment: Any) -> AsyncIterator[dict[str, Any]]:
        rid = "chatcmpl-bench"
        yield make_chunk(rid, deployment.public_name, {"role": "assistant", "content": ""})
        for word in WORDS:
            yield make_chunk(rid, deployment.public_name, {"content": word})
        yield make_chunk(rid, deployment.public_name, {}, "stop")
        yield make_chunk(rid, deployment.public_name, None, usage=make_usage(24, 7))


def scope(method: str, path: str, token: str | None) -> dict[str, Any]:
    headers = [(b"content-type", b"application/json")]
    if token is not None:
        headers.append((b"authorization", f"Bearer {token}".encode()))
    return {"type": "http", "method": method, "path": path, "query_string": b"", "headers": headers}


async def one(app: Any, body: bytes, token: str | None, path: str = "/v1/chat/completions") -> tuple[int, bytes]:
    status = 0
    parts: list[bytes] = []
    delivered = False
    done = asyncio.Event()

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        await done.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            parts.append(message.get("body", b""))
            if not message.get("more_body"):
                done.set()

    await app(scope("POST", path, token), receive, send)
    # A server turns its loop at least once per request (the socket); without this, nothing
    # here suspends and the callbacks a request schedules (and the objects they hold) pile up.
    await asyncio.sleep(0)
    return status, b"".join(parts)


@dataclass
class Bench:
    """The app with every feature on, and the switches that turn them off for one row."""

    app: Any
    key: str
    accountant: Accountant
    observability: ObservabilityHook
    others: tuple[Any, ...]
    full_authenticator: Any
    full_state: Any
    log_setup: LogSetup
    flusher: Any

    def configure(self, row: str) -> str | None:
        """Switch the app to ``row``; returns the bearer token to send."""
        level = ROWS.index(row)
        hooks = self.app.gateway.hooks
        order: list[Any] = []
        if level >= ROWS.index("+budget"):
            order.append(self.accountant)
        if level >= ROWS.index("+metrics"):
            order.append(self.observability)
        if level >= ROWS.index("+others"):
            order.extend(self.others)
        hooks.order = tuple(order)
        hooks.reverse = hooks.order[::-1]
        self.app.authenticator = self.full_authenticator if level >= 1 else MasterKeyAuthenticator(None)
        # +budget without the ledger: counters in a state without a journal, records dropped
        state = self.full_state if level >= ROWS.index("+ledger") else MemoryState(None)
        self.accountant.state = self.accountant.service.state = state
        self.observability.logs = self.log_setup if level >= ROWS.index("+log") else None
        return self.key if level >= 1 else None

    async def drain(self) -> None:
        """Finish the background work the timed requests caused (ledger rows, log lines)."""
        if self.accountant.state is self.full_state:
            await self.flusher.flush()
        if self.observability.logs is not None:
            self.log_setup._handoff()
            while not self.log_setup._batches.empty():
                await asyncio.sleep(0.001)
        await asyncio.sleep(0)  # the observability hook records on the loop's next turn


async def build(data_dir: str, devnull: Any) -> Bench:
    config = validate(
        {
            "models": [{"name": "gpt-4o-mini", "deployments": [{"provider": "openai", "model": "gpt-4o-mini"}]}],
            "local_model": {"enabled": False},
            "discover_providers": False,
            "data_dir": data_dir,
            "server": {"master_key": MASTER_KEY},
        }
    )
    app = create_app(config)
    await app.startup()
    assert app.gateway.providers is not None
    app.gateway.providers._instances["openai"] = MemoryProvider()
    status, reply = await one(
        app, orjson.dumps({"name": "bench", "budget": 1_000_000, "budget_period": "month"}), MASTER_KEY, "/admin/keys"
    )
    assert status == 201, reply
    hooks = app.gateway.hooks.order
    accountant = next(h for h in hooks if isinstance(h, Accountant))
    observability = next(h for h in hooks if isinstance(h, ObservabilityHook))
    log_setup = LogSetup(stream=devnull)
    runtime = next(
        step.__self__ for step in app.lifecycle.startup if hasattr(getattr(step, "__self__", None), "flusher")
    )
    return Bench(
        app,
        orjson.loads(reply)["key"],
        accountant,
        observability,
        tuple(h for h in hooks if h is not accountant and h is not observability),
        app.authenticator,
        accountant.state,
        log_setup,
        runtime.flusher,
    )


async def timed(bench: Bench, row: str, body: bytes, n: int) -> tuple[float, float]:
    token = bench.configure(row)
    for _ in range(100):
        status, reply = await one(bench.app, body, token)
        assert status == 200, reply
    await bench.drain()
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(n):
        await one(bench.app, body, token)
    await bench.drain()
    return (time.perf_counter() - wall) / n * 1e6, (time.process_time() - cpu) / n * 1e6


async def run(n: int, rounds: int, profile: str | None, rows: tuple[str, ...]) -> None:
    with tempfile.TemporaryDirectory() as data_dir, open(os.devnull, "w") as devnull:
        bench = await build(data_dir, devnull)
        try:
            if profile is not None:
                await profiled(bench, profile, n)
                return
            best: dict[tuple[str, str], tuple[float, float]] = {}
            for _ in range(rounds):
                for label, body in (("json", REQUEST), ("stream", STREAM_REQUEST)):
                    for row in rows:
                        wall, cpu = await timed(bench, row, body, n)
                        old = best.get((label, row), (float("inf"), float("inf")))
                        best[(label, row)] = (min(old[0], wall), min(old[1], cpu))
            print(f"µs per request, best of {rounds} x {n} requests (stream: 8 chunks + usage)\n")
            print("| features | JSON wall | JSON cpu | Δ cpu | stream wall | stream cpu | Δ cpu |")
            print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
            previous = {"json": 0.0, "stream": 0.0}
            for row in rows:
                cells = [row if row != "+others" else "+others = all"]
                for label in ("json", "stream"):
                    wall, cpu = best[(label, row)]
                    cells += [f"{wall:.1f}", f"{cpu:.1f}", f"{cpu - previous[label]:+.1f}" if row != "none" else ""]
                    previous[label] = cpu
                print("| " + " | ".join(cells) + " |")
        finally:
            bench.configure("+others")
            await bench.app.shutdown()
            bench.log_setup.close()


async def profiled(bench: Bench, row: str, n: int) -> None:
    for label, body in (("json", REQUEST), ("stream", STREAM_REQUEST)):
        await timed(bench, row, body, 200)
        token = bench.configure(row)
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(n):
            await one(bench.app, body, token)
        await bench.drain()
        profiler.disable()
        print(f"# {label}, {row}")
        pstats.Stats(profiler).sort_stats("tottime").print_stats(40)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", type=int, default=2000, help="requests per row and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rows", nargs="+", choices=ROWS, default=ROWS, help="measure only these rows")
    parser.add_argument("--profile", nargs="?", const="+others", choices=ROWS, help="cProfile one row")
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(run(args.n, args.rounds, args.profile, tuple(args.rows)))


if __name__ == "__main__":
    main()
