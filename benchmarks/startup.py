"""Import cost of ``import unigate`` and time from ``unigate serve`` to ready.

    .venv/bin/python benchmarks/startup.py            # prints a small table

Ready = ``/health/ready`` answers 200. Measured with the benchmark config (no local model) and
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


def time_to_ready(args: list[str], port: int, runs: int = 3) -> float:
    samples = []
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
        finally:
            proc.terminate()
            proc.wait(10)
    return statistics.median(samples)


def main() -> None:
    print(f"import unigate                 {import_time_ms('unigate'):7.1f} ms (python -X importtime, median of 5)")
    print(f"import unigate.gateway         {import_time_ms('unigate.gateway'):7.1f} ms")
    bench = ["-c", str(REPO / "benchmarks" / "bench.yaml")]
    print(f"serve → ready (bench config)   {time_to_ready(bench, 4031) * 1000:7.0f} ms (median of 3)")
    print(f"serve → ready (zero-config)    {time_to_ready([], 4032) * 1000:7.0f} ms (local model loads in background)")


if __name__ == "__main__":
    main()
