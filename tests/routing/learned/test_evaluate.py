from __future__ import annotations

import functools
import operator

import numpy as np

from unigate.routing.learned import metrics as M
from unigate.routing.learned.data import Example
from unigate.routing.learned.evaluate import cross_validate, format_table, group_folds


def test_group_folds_partition_groups() -> None:
    groups = ["a"] * 5 + ["b"] * 3 + ["c"] * 3 + ["d"] * 1 + ["e"] * 2
    folds = group_folds(groups, 3)
    assert len(folds) == 3
    seen = np.concatenate([te for _, te in folds])
    assert sorted(seen.tolist()) == list(range(len(groups)))
    for tr, te in folds:
        assert not ({groups[i] for i in tr} & {groups[i] for i in te})
    assert len(group_folds(groups, 0)) == 5  # leave-one-group-out


def test_cross_validate_scores_every_example_out_of_fold() -> None:
    rng = np.random.default_rng(0)
    ex = []
    for g in range(6):
        for i in range(40):
            hard = i % 2 == 0
            p = f"Compute 12 * {i} + 7 = ? in dollars, step by step {g}" if hard else f"hi {i} {g}"
            w = float(rng.random() < (0.3 if hard else 0.9))
            s = float(rng.random() < 0.9)
            ex.append(Example(p, w, s, f"g{g}"))
    res = cross_validate(ex, k=3)
    assert len(res.fold_apgr) == 3 and len(res.fold_groups) == 3
    assert sorted(functools.reduce(operator.iadd, res.fold_groups, [])) == [f"g{g}" for g in range(6)]
    assert res.report.apgr > 0.6
    table = format_table([("x", res.report)], 0.6, 0.9, len(ex))
    assert "APGR" in table and "CPT(50%)" in table and "CPT(80%)" in table
    assert isinstance(M.report(res.scores, res.weak_q, res.strong_q).apgr, float)


def test_excluded_groups_are_scored_but_never_trained_on() -> None:
    # group "bad" has inverted labels; if it leaked into training the other folds would suffer
    rng = np.random.default_rng(3)
    ex = []
    for g in ["a", "b", "c", "bad"]:
        for i in range(60):
            hard = i % 2 == 0
            p = f"Compute {i} * 17 + 3 = ? dollars step by step" if hard else f"hello {i}"
            gain_hard = hard if g != "bad" else not hard
            w = float(rng.random() < (0.2 if gain_hard else 0.9))
            ex.append(Example(p, w, 0.95, g))
    with_bad = cross_validate(ex, k=4)
    without_bad = cross_validate(ex, k=4, exclude_groups=["bad"])
    good = np.array([e.group != "bad" for e in ex])
    w = with_bad.weak_q[good]
    s = with_bad.strong_q[good]
    assert M.apgr(without_bad.scores[good], w, s) > M.apgr(with_bad.scores[good], w, s)
    assert np.all(np.isfinite(without_bad.scores))
