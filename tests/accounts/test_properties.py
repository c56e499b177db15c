"""Property-based: random interleavings of requests (n, missing max_tokens, request and config
fallbacks, dynamic names, streams cut or abandoned at random points, upstreams that omit usage
or fail), top-ups and revocations, against one real gateway process and a fake upstream.

Invariants checked on every example (docs/accounts.md): committed spend <= credit; spend ==
the ledger's sum; one ledger row per admitted request, none doubled; every token the client
received was charged. ``benchmarks/money_properties.py`` runs the same harness for longer.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings

from tests.support.fake_upstream import FakeUpstream, Mode, ThreadedUpstream
from tests.support.gateway_process import GatewayProcess
from tests.support.money import credits, gateway_config, operations, run_example

EXAMPLES = 30


@pytest.fixture(scope="module")
def money_gateway(tmp_path_factory):
    upstream = ThreadedUpstream(FakeUpstream(default=Mode(honest=True)))
    process = GatewayProcess(
        config={"local_model": {"enabled": False}, **gateway_config(upstream.base_url)},
        workdir=tmp_path_factory.mktemp("money"),
    )
    process.start()
    yield process
    process.stop()
    upstream.stop()


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@given(credit=credits, ops=operations)
def test_spend_never_exceeds_credit_and_everything_produced_is_charged(money_gateway, credit, ops):
    outcome = run_example(money_gateway.url, credit, ops)
    assert outcome.spent <= outcome.credit + 1e-12, outcome  # (1) never more than the credit
    assert abs(outcome.spent - outcome.ledger_cost) < 1e-12, outcome  # spend == ledger sum
    assert outcome.duplicate_rows == 0 and outcome.ledger_rows == outcome.admitted, outcome  # (3)
    assert not outcome.undercharged, outcome.undercharged  # (2) every received token charged
