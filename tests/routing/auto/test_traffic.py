from __future__ import annotations

from unigate.routing.auto.traffic import MAX_REMEMBERED, AutoTraffic


def test_shares_savings_and_feedback_per_policy_and_model() -> None:
    t = AutoTraffic()
    t.record("r1", "auto/balanced", "mini", 0.01)
    t.record("r2", "auto/balanced", "mini", 0.02)
    t.record("r3", "auto/balanced", "flagship", 0.0)
    t.record("r4", "auto/cheap", "mini", None)
    assert t.feedback("r1", 1.0) and t.feedback("r2", 0.5)
    assert not t.feedback("unknown", 1.0)
    snap = {p["policy"]: p for p in t.snapshot()}
    balanced = snap["auto/balanced"]
    assert balanced["requests"] == 3 and balanced["estimated_saving_usd"] == 0.03
    assert balanced["feedback"] == 2 and balanced["feedback_mean"] == 0.75
    mini = balanced["models"][0]
    assert mini["model"] == "mini" and mini["share"] == round(2 / 3, 4) and mini["feedback_mean"] == 0.75
    assert balanced["models"][1]["feedback_mean"] is None
    assert snap["auto/cheap"]["models"][0]["share"] == 1.0


def test_only_recent_requests_are_remembered_for_feedback() -> None:
    t = AutoTraffic()
    for i in range(MAX_REMEMBERED + 1):
        t.record(f"r{i}", "auto", "m", None)
    assert not t.feedback("r0", 1.0) and t.feedback(f"r{MAX_REMEMBERED}", 1.0)
