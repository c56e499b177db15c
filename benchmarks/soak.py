"""Memory soak: mixed traffic through one gateway for a long time, printing its RSS and open
sockets as it goes.

    .venv/bin/python benchmarks/soak.py --requests 1000000 [--concurrency 32] [--keys 500] [--workers 1]
    nice -n 19 .venv/bin/python benchmarks/soak.py --requests 1000000 > soak.log &   # in the background

Starts ``unigate serve --no-local`` with accounts on (``--keys`` virtual keys, each with a credit
and an rpm limit, so every request is admitted, reserved, settled and written to the ledger) and
drives it with an aiohttp client over keep-alive loopback connections. The mix, per 20 requests:
12 JSON chat completions, 4 streamed ones (SSE, 8 chunks + usage), 1 unknown model (404), 1 bad
body (400), 1 unknown key (401), 1 upstream that refuses connections (502). The upstream is the
nginx fixed-reply mock (``benchmarks/harness/nginx-mock.conf``) on 127.0.0.1:18080.

Every ``--every`` requests it prints: requests so far, rps, RSS of the gateway (the parent and
its workers, MB), open sockets, and the status counts. Memory that keeps growing after the
first rounds (caches, connection pools and the allocator warm up) is a leak.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gateway_tree import process_tree, stop, wait_ready

REPO = Path(__file__).resolve().parents[1]
MASTER = "sk-soak-master"
UPSTREAM = "http://127.0.0.1:18080"
MESSAGES = [{"role": "user", "content": "What is the capital of France? Answer in one sentence."}]


def rss_and_sockets(root: int) -> tuple[float, int]:
    """RSS (MB) and open sockets of ``root`` and its children (the workers)."""
    rss, sockets = 0.0, 0
    for pid in process_tree(root):
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    rss += int(line.split()[1]) / 1024
            for fd in os.listdir(f"/proc/{pid}/fd"):
                try:
                    sockets += os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:")
                except OSError:
                    continue
        except OSError:
            continue
    return rss, sockets


def start_gateway(workdir: Path, port: int, workers: int) -> subprocess.Popen[bytes]:
    def model(name: str, base: str) -> dict[str, Any]:
        deployment = {"provider": "openai", "model": "gpt-4o-mini", "api_base": base, "api_key": "sk-up"}
        return {"name": name, "deployments": [deployment], "pricing": {"input_per_mtok": 0.15, "output_per_mtok": 0.6}}

    config = {
        "server": {"master_key": MASTER},
        "local_model": {"enabled": False},
        "discover_providers": False,
        "data_dir": str(workdir / "data"),
        "models": [
            model("json", UPSTREAM + "/v1"),
            model("stream", UPSTREAM + "/stream/v1"),
            model("down", "http://127.0.0.1:9/v1"),  # nothing listens: connection refused
        ],
    }
    path = workdir / "soak.yaml"
    path.write_text(yaml.safe_dump(config))
    unigate = str(Path(sys.executable).with_name("unigate"))
    log = (workdir / "gateway.log").open("wb")
    command = [unigate, "serve", "-c", str(path), "--port", str(port), "--no-local", "--workers", str(workers)]
    return subprocess.Popen(
        command, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "UNIGATE_LOG_LEVEL": "WARNING"}
    )


async def one(session: aiohttp.ClientSession, url: str, n: int, keys: list[str]) -> int:
    key = keys[n % len(keys)]
    kind = n % 20
    body: Any = {"model": "json", "messages": MESSAGES, "max_tokens": 64}
    if 12 <= kind < 16:
        body = {**body, "model": "stream", "stream": True}
    elif kind == 16:
        body = {**body, "model": "no-such-model"}
    elif kind == 17:
        body = {"model": "json", "messages": "not a list"}
    elif kind == 18:
        key = f"sk-ug-unknown-key-{n}"
    elif kind == 19:
        body = {**body, "model": "down"}
    headers = {"authorization": f"Bearer {key}", "content-type": "application/json"}
    async with session.post(url + "/v1/chat/completions", data=json.dumps(body), headers=headers) as reply:
        await reply.read()
        return reply.status


async def drive(url: str, args: argparse.Namespace, gateway: int) -> None:
    connector = aiohttp.TCPConnector(limit=args.concurrency)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=60)) as session:
        headers = {"authorization": f"Bearer {MASTER}"}
        keys = []
        for i in range(args.keys):
            body = {"name": f"soak{i}", "credit": 1_000_000, "rpm": 1_000_000}
            async with session.post(url + "/admin/keys", json=body, headers=headers) as reply:
                keys.append((await reply.json())["key"])
        counter = itertools.count()
        statuses: Counter[int] = Counter()
        done = 0
        started = last_time = time.monotonic()
        last_done = 0
        rss, sockets = rss_and_sockets(gateway)
        print(f"{'requests':>9} {'rps':>6} {'RSS MB':>7} {'sockets':>7}  statuses", flush=True)
        print(f"{0:>9} {0:>6} {rss:>7.1f} {sockets:>7}  (idle, {args.keys} keys created)", flush=True)

        async def worker() -> None:
            nonlocal done, last_time, last_done
            while (n := next(counter)) < args.requests:
                try:
                    statuses[await one(session, url, n, keys)] += 1
                except (TimeoutError, aiohttp.ClientError) as exc:
                    statuses[type(exc).__name__] += 1  # type: ignore[index]
                done += 1
                if done % args.every == 0:
                    now = time.monotonic()
                    rss, sockets = rss_and_sockets(gateway)
                    rps = (done - last_done) / (now - last_time)
                    last_time, last_done = now, done
                    print(
                        f"{done:>9} {rps:>6.0f} {rss:>7.1f} {sockets:>7}  {dict(sorted(statuses.items(), key=str))}",
                        flush=True,
                    )

        await asyncio.gather(*(worker() for _ in range(args.concurrency)))
        print(f"# {done} requests in {time.monotonic() - started:.0f} s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=1_000_000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--keys", type=int, default=500)
    parser.add_argument("--every", type=int, default=20_000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--port", type=int, default=4150)
    args = parser.parse_args()
    try:
        urllib.request.urlopen(urllib.request.Request(UPSTREAM + "/v1/chat/completions", data=b"{}"), timeout=2).close()
    except OSError:
        sys.exit(f"no upstream on {UPSTREAM}: start the mock first (nginx -c $PWD/benchmarks/harness/nginx-mock.conf)")
    with tempfile.TemporaryDirectory() as tmp:
        proc = start_gateway(Path(tmp), args.port, args.workers)
        url = f"http://127.0.0.1:{args.port}"
        try:
            wait_ready(url)
            asyncio.run(drive(url, args, proc.pid))
        finally:
            stop(proc)


if __name__ == "__main__":
    main()
