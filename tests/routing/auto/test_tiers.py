"""Quality vs cost: the price/quality frontier and the multi-tier mapping of score → model."""

from __future__ import annotations

import pytest

from tests.routing.auto.test_constraints import cand
from unigate.routing.auto.tiers import choose, frontier

LOCAL = cand("local", quality=0.15, price=0.0)
MID = cand("mid", quality=0.70, price=0.3)
TOP = cand("top", quality=0.95, price=5.0)
WORSE_AND_DEARER = cand("dearer", quality=0.6, price=1.0)
SAME_QUALITY_DEARER = cand("same", quality=0.95, price=9.0)


def test_frontier_sorts_by_price_and_drops_dominated_models():
    front, dominated = frontier([TOP, SAME_QUALITY_DEARER, WORSE_AND_DEARER, MID, LOCAL])
    assert [c.name for c in front] == ["local", "mid", "top"]
    assert {c.name for c in dominated} == {"dearer", "same"}


def test_unknown_price_sorts_last():
    unpriced = cand("unpriced", quality=0.99, price=None)
    front, _ = frontier([unpriced, TOP, LOCAL])
    assert [c.name for c in front] == ["local", "top", "unpriced"]


@pytest.mark.parametrize(("score", "expected"), [(0.0, "local"), (0.69, "local"), (0.7, "top"), (1.0, "top")])
def test_two_tiers_split_at_the_threshold(score, expected):
    front, _ = frontier([LOCAL, TOP])
    assert front[choose(front, score, 0.7, None)].name == expected


def test_three_tiers_required_quality_interpolates_below_the_threshold():
    front, _ = frontier([LOCAL, MID, TOP])
    t = 0.6
    # mid takes over when the required quality 0.15 + s/t·0.8 reaches 0.70 → s = 0.4125
    boundary = t * (0.70 - 0.15) / (0.95 - 0.15)
    assert front[choose(front, boundary - 0.01, t, None)].name == "local"
    assert front[choose(front, boundary + 0.01, t, None)].name == "mid"
    assert front[choose(front, t - 0.001, t, None)].name == "mid"
    assert front[choose(front, t, t, None)].name == "top"


def test_strong_quality_makes_the_cheapest_good_enough_model_the_strong_tier():
    front, _ = frontier([LOCAL, MID, TOP])
    assert front[choose(front, 0.9, 0.5, strong_quality=0.7)].name == "mid"
    assert front[choose(front, 0.1, 0.5, strong_quality=0.7)].name == "local"


def test_no_score_or_zero_threshold_means_the_strong_tier():
    front, _ = frontier([LOCAL, MID, TOP])
    assert front[choose(front, None, 0.5, None)].name == "top"
    assert front[choose(front, 0.0, 0.0, None)].name == "top"


def test_a_single_candidate_is_always_chosen():
    assert choose([MID], 0.0, 0.9, None) == 0
