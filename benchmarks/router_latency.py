"""Latency of the learned router's per-prompt score (what the gateway pays per "auto" request).

    .venv/bin/python benchmarks/router_latency.py [--n 3000] [--router mmlu] [--data DIR]

Prints the one-time load cost, then p50 / p90 / p99 / max µs per ``Router.score`` call (wall
clock, thread CPU time, and min-of-5 per prompt, since the machine may be shared) over
real MMLU prompts (if the routing data is present) plus synthetic chat / math / code prompts,
and per-prompt cost of ``score_many``. Single thread, warm cache.
"""

from __future__ import annotations

import argparse
import random
import time

import numpy as np

SYNTHETIC = [
    "What is the capital of Australia?",
    "Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May. "
    "How many clips did Natalia sell altogether in April and May?",
    "Write a Python function that returns the longest palindromic substring of a string, "
    "and explain its time complexity.\n```python\ndef longest(s: str) -> str:\n    ...\n```",
    "Compose an engaging travel blog post about a recent trip to Hawaii, highlighting cultural "
    "experiences and must-see attractions.",
    "Explain step by step why the sum of the first n odd numbers is n^2, then prove it by induction.",
]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=3000)
    ap.add_argument("--router", default="mmlu")
    ap.add_argument("--data")
    args = ap.parse_args()

    t0 = time.perf_counter()
    from unigate.routing.learned.model import load_router

    router = load_router(args.router)
    t_load = time.perf_counter() - t0

    prompts = list(SYNTHETIC)
    from unigate.routing.learned.data import find_default_data_dir, load_mmlu

    data = args.data or find_default_data_dir()
    if data:
        ex = load_mmlu(data)
        prompts += [e.prompt for e in random.Random(0).sample(ex, min(args.n, len(ex)))]
    sample = [prompts[i % len(prompts)] for i in range(args.n)]

    for p in sample[:200]:  # warm up
        router.score(p)
    wall = np.empty(len(sample))
    cpu = np.empty(len(sample))
    for i, p in enumerate(sample):
        t = time.perf_counter()
        c = time.thread_time()
        router.score(p)
        cpu[i] = time.thread_time() - c
        wall[i] = time.perf_counter() - t
    best = np.empty(len(sample))  # min of 5 runs per prompt: the cost without CPU contention
    for i, p in enumerate(sample):
        b = 1.0
        for _ in range(5):
            t = time.perf_counter()
            router.score(p)
            b = min(b, time.perf_counter() - t)
        best[i] = b
    chars = np.array([len(p) for p in sample])
    t = time.perf_counter()
    router.score_many(sample)
    batch_us = (time.perf_counter() - t) / len(sample) * 1e6

    print(f"router={args.router} prompts={len(sample)} (median {int(np.median(chars))} chars, max {chars.max()})")
    print(f"first load (import + artifact + word table): {t_load * 1000:.1f} ms")
    for label, arr in (("wall", wall), ("thread CPU", cpu), ("min of 5 (no contention)", best)):
        us = arr * 1e6
        print(
            f"score() {label:>24}: p50 {np.percentile(us, 50):5.0f} µs  p90 {np.percentile(us, 90):5.0f} µs  "
            f"p99 {np.percentile(us, 99):5.0f} µs  max {us.max():6.0f} µs"
        )
    print(f"score_many(): {batch_us:.0f} µs per prompt")
    long_p = "Explain this. " + "The quick brown fox jumps over the lazy dog 42 times. " * 400
    t = time.perf_counter()
    for _ in range(50):
        router.score(long_p)
    print(
        f"score() on a {len(long_p)}-char prompt (featurized on its first/last 2500 chars): {(time.perf_counter() - t) / 50 * 1e6:.0f} µs"
    )


if __name__ == "__main__":
    main()
