from __future__ import annotations

import numpy as np

from unigate.router_training.costcurve import choose, curve, list_prices


def test_choose_takes_the_cheapest_candidate_meeting_the_target() -> None:
    pred = np.array([[0.9, 0.5, 0.95], [0.2, 0.85, 0.9]])
    prices = np.array([1.0, 0.1, 10.0])  # columns: mid, cheap, expensive
    assert choose(pred, prices, 0.0).tolist() == [1, 1]  # always the cheapest
    assert choose(pred, prices, 0.9).tolist() == [0, 1]  # 0.9 ≥ 0.9·0.95; 0.85 ≥ 0.9·0.9 → cheap
    assert choose(pred, prices, 1.0).tolist() == [2, 2]  # only the best prediction qualifies


def test_curve_spans_cheapest_to_best_predicted_and_summarizes() -> None:
    actual = np.array([[1.0, 0.0], [1.0, 1.0], [0.0, 0.0], [1.0, 0.0]])
    pred = np.array([[0.9, 0.1], [0.9, 0.9], [0.5, 0.4], [0.9, 0.2]])
    c = curve("s", ["big", "small"], pred, actual, np.array([10.0, 1.0]), steps=11)
    assert c.cost[0] == 1.0 and c.quality[0] == 0.25  # target 0: the small model everywhere
    assert c.single_quality.tolist() == [0.75, 0.25]
    summary = c.summary()
    assert summary["best_single"] == "big"
    # the router reaches the big model's quality while sending the easy prompt to the small one
    assert summary["cost_share_to_match_best"] is not None and summary["cost_share_to_match_best"] < 1.0


def test_list_prices_come_from_the_catalog() -> None:
    prices = list_prices()
    assert prices["gpt-4o"] > prices["gpt-4o-mini"] > 0
