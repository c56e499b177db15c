"""Leak soak: the routing fault-injection harness, run for minutes against one gateway process,
printing its RSS and open file descriptors / sockets (from /proc) after every round.

    .venv/bin/python benchmarks/soak_faults.py --minutes 5 --round 2000

Memory or sockets that keep growing round after round are a leak (the first rounds warm up
caches and the connection pool). Not part of the test suite.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.routing.test_faults import build_fleet, drive
from tests.support.fake_upstream import FakeUpstream, Mode, ThreadedUpstream
from tests.support.gateway_process import GatewayProcess


def proc_stats(pid: int) -> tuple[float, int, int]:
    """RSS in MB, open fds, open sockets of ``pid``."""
    rss = 0.0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1]) / 1024
    fds = sockets = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        fds += 1
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:"):
                sockets += 1
        except OSError:
            pass
    return rss, fds, sockets


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--round", type=int, default=2000, help="requests per round")
    parser.add_argument("--concurrency", type=int, default=48)
    args = parser.parse_args()

    started: list[ThreadedUpstream] = []

    def make(default: Mode | None = None, name: str = "fake") -> ThreadedUpstream:
        upstream = ThreadedUpstream(FakeUpstream(default=default or Mode(), name=name))
        started.append(upstream)
        return upstream

    fleet = build_fleet(make)
    with tempfile.TemporaryDirectory() as tmp:
        config = {"local_model": {"enabled": False}, **fleet.config}
        gateway = GatewayProcess(config=config, workdir=Path(tmp), env={"UNIGATE_LOG_LEVEL": "ERROR"}).start()
        assert gateway.proc is not None
        pid = gateway.proc.pid
        rss, fds, socks = proc_stats(pid)
        print("round  elapsed_s  requests  ok  midstream_err  bad_req  failed  rss_mb  fds  sockets", flush=True)
        print(f"{0:5d}  {0:9.0f}  {0:8d}  {0:2d}  {0:13d}  {0:7d}  {0:6d}  {rss:6.1f}  {fds:3d}  {socks:7d}")
        t0 = time.monotonic()
        deadline = t0 + args.minutes * 60
        round_no = total = 0
        try:
            while time.monotonic() < deadline:
                round_no += 1
                tally = asyncio.run(drive(gateway.base_url, args.round, args.concurrency, seed=round_no))
                total += args.round
                for upstream in started:  # keep the fakes' request logs from growing in this process
                    upstream.upstream.received.clear()
                time.sleep(0.5)  # let idle keep-alive connections settle before counting
                rss, fds, socks = proc_stats(pid)
                print(
                    f"{round_no:5d}  {time.monotonic() - t0:9.0f}  {total:8d}  {sum(tally.ok.values()):2d}  "
                    f"{tally.api_errors_midstream:13d}  {tally.bad_requests:7d}  {len(tally.failed) + len(tally.wrong):6d}"
                    f"  {rss:6.1f}  {fds:3d}  {socks:7d}",
                    flush=True,
                )
                for problem in (tally.failed + tally.wrong)[:3]:
                    print(f"       ! {problem[:200]}", flush=True)
        finally:
            gateway.stop()
            for upstream in started:
                upstream.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
