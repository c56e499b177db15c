"""Import cost of ``import unigate`` and time from ``unigate serve`` to ready.

    .venv/bin/python benchmarks/startup.py            # prints a small table

Ready = ``/health/ready`` answers 200. Beside the wall time, the CPU time the gateway process
used until then (user + system, from /proc): on a busy machine wall time mostly measures the
other processes, CPU time still measures the gateway's own start-up. Measured with the benchmark config (no local model) and
with the zero-config default (local model loading in the background: the gateway is ready before
the model has finished loading; the first local request waits for it).
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
UNIGATE = str(Path(sys.executable).with_name("unigate"))


def import_time_ms(module: str, runs: int = 5) -> float:
    """Cumulative self+children time of ``module`` as reported by ``python -X importtime``."""
    samples = []
    for _ in range(runs):
        result = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", f"import {module}"], capture_output=True, text=True, check=True
        )
        for line in result.stderr.splitlines():
            match = re.match(r"import time:\s+\d+ \|\s+(\d+) \| (\s*)(\S+)$", line)
            if match and match.group(3) == module and not match.group(2):
                samples.append(int(match.group(1)) / 1000)
    return statistics.median(samples)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def time_to_ready(args: list[str], port: int, runs: int = 3) -> tuple[float, float]:
    """(wall seconds, CPU seconds) from start to ready, medians."""
    samples = []
    cpu = []
    for _ in range(runs):
        started = time.perf_counter()
        proc = subprocess.Popen(
            [UNIGATE, "serve", "--port", str(port), *args],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "UNIGATE_LOG_LEVEL": "WARNING"},
        )
        try:
            while True:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/health/ready", timeout=1) as reply:
                        if reply.status == 200:
                            break
                except OSError:
                    time.sleep(0.01)
            samples.append(time.perf_counter() - started)
            cpu.append(cpu_seconds(proc.pid))
        finally:
            proc.terminate()
            proc.wait(10)
    return statistics.median(samples), statistics.median(cpu)


def main() -> None:
    print(f"import unigate                 {import_time_ms('unigate'):7.1f} ms (python -X importtime, median of 5)")
    print(f"import unigate.gateway         {import_time_ms('unigate.gateway'):7.1f} ms")
    bench = ["-c", str(REPO / "benchmarks" / "bench.yaml")]
    wall, cpu = time_to_ready([*bench, "--no-local"], 4031)
    print(f"serve → ready (bench config)   {wall * 1000:7.0f} ms, {cpu * 1000:5.0f} ms CPU (median of 3)")
    wall, cpu = time_to_ready([], 4032)
    print(
        f"serve → ready (zero-config)    {wall * 1000:7.0f} ms, {cpu * 1000:5.0f} ms CPU (local model loads in background)"
    )


if __name__ == "__main__":
    main()
