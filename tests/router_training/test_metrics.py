from __future__ import annotations

import numpy as np
import pytest

from unigate.router_training import metrics as M


def test_constant_scores_trace_the_random_diagonal() -> None:
    w = np.array([1, 0, 0, 1, 0, 1, 0, 0], dtype=float)
    s = np.array([1, 1, 1, 1, 0, 1, 1, 0], dtype=float)
    scores = M.random_scores(len(w))
    assert M.apgr(scores, w, s) == pytest.approx(0.5)
    assert M.cpt(scores, w, s, 0.5) == pytest.approx(0.5)
    assert M.cpt(scores, w, s, 0.8) == pytest.approx(0.8)
    assert M.pgr_at(scores, w, s, 0.3) == pytest.approx(0.3)
    assert M.apgr_binned(scores, w, s) == pytest.approx(0.5)


def test_hand_computed_curve() -> None:
    # 4 prompts, gains (strong - weak) = [1, 0, 1, 0]; weak acc = 0.25, strong acc = 0.75, gap = 0.5
    w = np.array([0, 1, 0, 0], dtype=float)
    s = np.array([1, 1, 1, 0], dtype=float)
    scores = np.array([0.9, 0.8, 0.1, 0.5])  # order: p0(+1), p1(0), p3(0), p2(+1)
    share, pgr = M.pgr_curve(scores, w, s)
    assert share.tolist() == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert pgr.tolist() == pytest.approx([0.0, 0.5, 0.5, 0.5, 1.0])
    # trapezoids: 0.25 * (0.25 + 0.5 + 0.5 + 0.75) = 0.5
    assert M.apgr(scores, w, s) == pytest.approx(0.5)
    assert M.cpt(scores, w, s, 0.5) == pytest.approx(0.25)
    assert M.cpt(scores, w, s, 0.8) == pytest.approx(0.75 + 0.25 * 0.6)


def test_oracle_is_best_and_reversed_oracle_is_worst() -> None:
    rng = np.random.default_rng(1)
    w = (rng.random(500) < 0.6).astype(float)
    s = np.maximum(w, (rng.random(500) < 0.5).astype(float))
    oracle = M.oracle_scores(w, s)
    a_oracle = M.apgr(oracle, w, s)
    # with no negative gains the oracle recovers the gap at share = #gains/n and stays at 1
    frac = float(np.mean(s - w > 0))
    assert a_oracle == pytest.approx(1 - frac / 2)
    assert M.cpt(oracle, w, s, 1.0) == pytest.approx(frac)
    assert M.apgr(-oracle, w, s) < 0.5 < M.apgr(rng.random(500), w, s) + 0.1
    for _ in range(5):
        assert M.apgr(rng.random(500), w, s) < a_oracle


def test_ties_are_averaged_not_ordered_by_position() -> None:
    w = np.array([0, 1], dtype=float)
    s = np.array([1, 1], dtype=float)
    # one tie block: the result must not depend on the input order
    assert M.apgr([0.3, 0.3], w, s) == M.apgr([0.3, 0.3], w[::-1], s[::-1]) == pytest.approx(0.5)


def test_undefined_gap_raises() -> None:
    with pytest.raises(ValueError):
        M.apgr([0.1, 0.2], [1, 1], [1, 0])
