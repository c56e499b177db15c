"""Latency of the learned router per prompt (what the gateway pays per "auto" request), on one core.

    OMP_NUM_THREADS=1 taskset -c 0 .venv/bin/python benchmarks/router_latency.py [--n 2000] [--router default]

Prompts: real ones from every vendored source (datasets/routing-data), plus each of them
stretched or cut to exactly 4,000 characters (the budget: p99 <= 5 ms for a 4,000-char prompt).
Measures ``Router.explain`` with every profile (score + predicted success per model, the most
the gateway asks for): wall clock, thread CPU time, and min-of-5 per prompt (the cost without
contention from other processes on a shared machine). Single thread, warm caches.
"""

from __future__ import annotations

import argparse
import os
import random
import time

import numpy as np


def _to_length(text: str, n: int) -> str:
    while len(text) < n:
        text = text + "\n" + text
    return text[:n]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--router", default="default")
    ap.add_argument("--data")
    args = ap.parse_args()

    t0 = time.perf_counter()
    from unigate.routing.learned.model import load_router

    router = load_router(args.router)
    router.score("warm up")
    t_load = time.perf_counter() - t0
    profiles = list(router.profiles)

    from unigate.router_training.data import find_default_data_dir
    from unigate.router_training.sources import load_sources

    data = args.data or find_default_data_dir()
    rows = load_sources(data) if data else []
    rng = random.Random(0)
    real = [r.prompt for r in rng.sample(rows, min(args.n, len(rows)))] or ["What is 2 + 2?"]
    long4k = [_to_length(p, 4000) for p in real[: max(200, args.n // 4)]]

    try:
        cores = sorted(os.sched_getaffinity(0))
    except AttributeError:
        cores = []
    print(f"router={args.router} heads={len(router.artifact.heads)} buckets={router.artifact.buckets} cores={cores}")
    print(f"first load (import + artifact + word table + one score): {t_load * 1000:.1f} ms")
    for label, sample in (("real prompts", real), ("4,000-char prompts", long4k)):
        for p in sample[:100]:
            router.explain(p, profiles)
        wall = np.empty(len(sample))
        cpu = np.empty(len(sample))
        best = np.empty(len(sample))
        for i, p in enumerate(sample):
            t = time.perf_counter()
            c = time.thread_time()
            router.explain(p, profiles)
            cpu[i] = time.thread_time() - c
            wall[i] = time.perf_counter() - t
            b = 1.0
            for _ in range(5):
                t = time.perf_counter()
                router.explain(p, profiles)
                b = min(b, time.perf_counter() - t)
            best[i] = b
        chars = np.array([len(p) for p in sample])
        print(f"{label}: n={len(sample)} median {int(np.median(chars))} chars, max {chars.max()}")
        for name, arr in (("wall", wall), ("thread CPU", cpu), ("min of 5", best)):
            ms = arr * 1e3
            print(
                f"  explain() {name:>10}: p50 {np.percentile(ms, 50):6.3f} ms  p90 {np.percentile(ms, 90):6.3f} ms  "
                f"p99 {np.percentile(ms, 99):6.3f} ms  max {ms.max():6.3f} ms"
            )


if __name__ == "__main__":
    main()
