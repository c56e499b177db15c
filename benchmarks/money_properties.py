"""The money properties, for longer than CI runs them (not a test: prints numbers).

    PYTHONPATH=src .venv/bin/python benchmarks/money_properties.py --examples 200

Random interleavings of requests (n, missing max_tokens, request and config fallbacks, dynamic
names, streams cut or abandoned, upstreams without usage or failing), top-ups and revocations
against a real gateway process and a fake upstream (tests/support/money.py). Prints how many
examples and requests ran, every invariant violation, and the largest spend/credit ratio seen
(1.0 would be a key spending exactly its credit; above 1.0 is an overspend).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root: the tests' harness

from hypothesis import HealthCheck, given, settings
from tests.support.fake_upstream import FakeUpstream, Mode, ThreadedUpstream
from tests.support.gateway_process import GatewayProcess
from tests.support.money import Call, credits, gateway_config, operations, run_example


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--examples", type=int, default=200)
    args = parser.parse_args()
    upstream = ThreadedUpstream(FakeUpstream(default=Mode(honest=True)))
    process = GatewayProcess(
        config={"local_model": {"enabled": False}, **gateway_config(upstream.base_url)},
        workdir=Path(tempfile.mkdtemp(prefix="money-")),
    )
    process.start()
    statuses: Counter[int] = Counter()
    seen = {"examples": 0, "requests": 0, "admitted": 0, "max_ratio": 0.0, "violations": 0}

    @settings(max_examples=args.examples, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(credit=credits, ops=operations)
    def run(credit: float, ops: list) -> None:
        outcome = run_example(process.url, credit, ops)
        seen["examples"] += 1
        seen["requests"] += sum(isinstance(op, Call) for op in ops)
        seen["admitted"] += outcome.admitted
        seen["max_ratio"] = max(seen["max_ratio"], outcome.ratio)
        statuses.update(outcome.statuses)
        problems = []
        if outcome.spent > outcome.credit + 1e-12:
            problems.append("overspend")
        if abs(outcome.spent - outcome.ledger_cost) >= 1e-12:
            problems.append("spend != ledger")
        if outcome.duplicate_rows or outcome.ledger_rows != outcome.admitted:
            problems.append("rows != admitted")
        if outcome.undercharged:
            problems.append("undercharged")
        if problems:
            seen["violations"] += 1
            print("VIOLATION", problems, outcome, flush=True)

    try:
        run()
    finally:
        process.stop()
        upstream.stop()
    print(
        f"examples {seen['examples']}, requests {seen['requests']} ({seen['admitted']} admitted), "
        f"violations {seen['violations']}, largest spend/credit ratio {seen['max_ratio']:.4f}"
    )
    print("statuses", dict(sorted(statuses.items())))


if __name__ == "__main__":
    main()
