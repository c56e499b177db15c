"""``unigate serve --workers N``: rps and gateway CPU-seconds per 1,000 requests, 1 vs 2 workers.

    .venv/bin/python benchmarks/workers_scaling.py [--duration 10] [--connections 32] [--cpus 0,1]

Every feature that shares state is on: accounts (a virtual key with an rpm limit and a credit:
every request is one admission and one settlement through the shared state, and a ledger row),
metrics and the request log. The upstream is the nginx fixed-reply mock
(``nginx -c benchmarks/harness/nginx-mock.conf``, port 18080); wrk with ``harness/wrk.lua`` drives it.

CPU is read from /proc for the whole gateway (the parent with its state host thread, and every
worker) before and after the run: CPU-seconds per 1,000 requests that stay flat from 1 to 2
workers mean the shared state adds no contention, and then N dedicated cores give N times the
rps. On a 2-core machine wrk and nginx need CPU too, so the rps of 2 workers on 2 shared cores is
below 2x; both are printed, with the CPU each took.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gateway_tree import process_tree, stop, wait_ready

REPO = Path(__file__).resolve().parents[1]
HARNESS = REPO / "benchmarks" / "harness"
TICK = os.sysconf("SC_CLK_TCK")
MASTER = "sk-bench-master"


def tree_cpu_seconds(root: int) -> float:
    """user + system CPU of ``root`` and its children (all threads), from /proc."""
    total = 0
    for pid in process_tree(root):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / TICK


def call(url: str, path: str, body: object | None = None) -> dict[str, object]:
    request = urllib.request.Request(
        url + path,
        data=None if body is None else json.dumps(body).encode(),
        headers={"authorization": f"Bearer {MASTER}", "content-type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as reply:
        return dict(json.loads(reply.read()))


def run(workers: int, args: argparse.Namespace, workdir: Path) -> dict[str, float]:
    config = yaml.safe_load((REPO / "benchmarks" / "bench.yaml").read_text())
    config["server"] = {"master_key": MASTER}
    config["accounts"] = {"enabled": True}
    config["data_dir"] = str(workdir / f"data-{workers}")
    path = workdir / f"workers-{workers}.yaml"
    path.write_text(yaml.safe_dump(config))
    unigate = str(Path(sys.executable).with_name("unigate"))
    command = [unigate, "serve", "-c", str(path), "--port", str(args.port), "--no-local", "--workers", str(workers)]
    if args.cpus:
        command = ["taskset", "-c", args.cpus, *command]
    log = (workdir / f"gateway-{workers}.log").open("wb")
    gateway = subprocess.Popen(
        command, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "UNIGATE_LOG_LEVEL": "WARNING"}
    )
    url = f"http://127.0.0.1:{args.port}"
    try:
        wait_ready(url)
        key = call(url, "/admin/keys", {"name": "bench", "rpm": 10_000_000, "credit": 1_000_000})["key"]
        wrk = ["wrk", "-t2", f"-c{args.connections}", "--timeout", "10s", "-s", str(HARNESS / "wrk.lua")]
        if args.wrk_cpus:
            wrk = ["taskset", "-c", args.wrk_cpus, *wrk]
        env = {**os.environ, "BENCH_KEY": str(key)}
        subprocess.run([*wrk, "-d3s", url + "/v1/chat/completions"], env=env, capture_output=True, check=True)  # warm
        before = tree_cpu_seconds(gateway.pid)
        result = subprocess.run(
            [*wrk, f"-d{args.duration}s", url + "/v1/chat/completions"], env=env, capture_output=True, text=True
        )
        cpu = tree_cpu_seconds(gateway.pid) - before
        found = re.search(
            r"RESULT rps=([\d.]+) p50_ms=([\d.]+) .* p99_ms=([\d.]+) errors=(\d+) non2xx=(\d+) total=(\d+)",
            result.stdout,
        )
        if not found:
            raise RuntimeError(result.stdout + result.stderr)
        rps, p50, p99, errors, non2xx, total = (float(g) for g in found.groups())
        return {
            "rps": rps,
            "p50_ms": p50,
            "p99_ms": p99,
            "bad": errors + non2xx,
            "cpu_s": cpu,
            "cpu_s_per_1k": cpu / total * 1000,
            "cores_used": cpu / args.duration,
        }
    finally:
        stop(gateway)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--port", type=int, default=4100)
    parser.add_argument("--cpus", default="", help="taskset CPU list for the gateway (default: all)")
    parser.add_argument("--wrk-cpus", default="", help="taskset CPU list for wrk (default: all)")
    parser.add_argument("--workers", default="1,2")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed")
    with tempfile.TemporaryDirectory() as tmp:
        rows = {int(w): run(int(w), args, Path(tmp)) for w in args.workers.split(",")}
    print(f"gateway CPUs: {args.cpus or 'all'}; wrk CPUs: {args.wrk_cpus or 'all'}; {os.cpu_count()} cores")
    print(
        f"{'workers':>7} {'rps':>8} {'p50 ms':>7} {'p99 ms':>7} {'errors':>6} {'cores used':>10} {'CPU-s/1k req':>12}"
    )
    for workers, row in rows.items():
        print(
            f"{workers:>7} {row['rps']:>8.0f} {row['p50_ms']:>7.2f} {row['p99_ms']:>7.2f} {row['bad']:>6.0f}"
            f" {row['cores_used']:>10.2f} {row['cpu_s_per_1k']:>12.3f}"
        )
    if 1 in rows and 2 in rows:
        one, two = rows[1], rows[2]
        print(
            f"rps 2/1: {two['rps'] / one['rps']:.2f}x; CPU per request 2/1: {two['cpu_s_per_1k'] / one['cpu_s_per_1k']:.2f}x"
        )


if __name__ == "__main__":
    main()
