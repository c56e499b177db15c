"""Auto-routing overhead per request, in µs (not a test: prints numbers).

    .venv/bin/python benchmarks/auto_overhead.py

Measures ``AutoRouter.decide`` (constraints + scoring + tier + headers) on a 4-candidate
policy, with the real learned router and with a constant scorer (selection alone), for a short
and a long prompt, plus the learned router's ``score`` alone.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path
from typing import Any

from unigate.config import validate
from unigate.gateway import Gateway
from unigate.routing.auto.runtime import build_router
from unigate.routing.auto.scoring import Scorers
from unigate.routing.learned.model import load_router

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root: reuse the tests' synthetic catalog
from tests.routing.auto.test_selector import CONFIG, ctx_for

SHORT = "What is the capital of France?"
LONG = (
    "Explain, step by step, how to derive the closed form of the sum of the first n squares, "
    "then prove it by induction and give a worked example for n = 10. "
) * 20
N = 5000


class Constant:
    def score(self, prompt: str) -> float:
        return 0.3


def per_call_us(fn: Any, n: int = N) -> tuple[float, float]:
    for _ in range(200):
        fn()
    runs = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(n):
            fn()
        runs.append((time.perf_counter() - start) / n * 1e6)
    return statistics.median(runs), min(runs)


def main() -> None:
    real = load_router("mmlu")
    for label, scorer in (("selection only (constant score)", Constant()), ("selection + learned router", real)):
        router, _ = build_router(Gateway(validate(CONFIG), environ={}).groups, Scorers(loader=lambda name, s=scorer: s))
        for name, text in (("short", SHORT), ("long", LONG)):

            def once(text: str = text, router: Any = router) -> None:
                request = {"model": "auto", "messages": [{"role": "user", "content": text}], "max_tokens": 64}
                router.decide(ctx_for("auto"), request)

            median, best = per_call_us(once)
            print(
                f"{label:34} {name:5} prompt ({len(text):5} chars): median {median:7.1f} µs/request (best {best:.1f})"
            )
    for name, text in (("short", SHORT), ("long", LONG)):
        median, best = per_call_us(lambda text=text: real.score(text), 2000)
        print(
            f"{'learned router score() alone':34} {name:5} prompt ({len(text):5} chars): median {median:7.1f} µs (best {best:.1f})"
        )


if __name__ == "__main__":
    main()
