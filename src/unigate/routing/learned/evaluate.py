"""Honest held-out evaluation: leave-groups-out (MMLU: leave-subjects-out) cross-validation.

The subjects are dealt into ``k`` folds (largest first, each to the currently smallest fold,
so folds are balanced and deterministic). For every fold the fixed training recipe is fitted
on the other folds' subjects only and scores the held-out subjects. The out-of-fold scores of
all folds are pooled into one curve (one threshold across all of MMLU, as a deployment would
use it) and also evaluated per fold. Nothing is tuned on the held-out folds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from unigate.routing.learned import metrics as M
from unigate.routing.learned.data import Example
from unigate.routing.learned.model import Router
from unigate.routing.learned.train import TrainConfig, feature_matrix, train_from_features

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]


def group_folds(groups: Sequence[str], k: int) -> list[tuple[IntArray, IntArray]]:
    """(train_idx, test_idx) per fold; every group lands in exactly one test fold.
    ``k <= 0`` or ``k >= #groups`` means leave-one-group-out."""
    g = np.asarray(groups)
    names, counts = np.unique(g, return_counts=True)
    if len(names) < 2:
        raise ValueError("cross-validation needs at least 2 groups (subjects)")
    k = len(names) if k <= 0 or k >= len(names) else k
    sizes = [0] * k
    fold_of: dict[str, int] = {}
    for i in sorted(range(len(names)), key=lambda i: (-counts[i], names[i])):
        f = min(range(k), key=lambda j: (sizes[j], j))
        fold_of[str(names[i])] = f
        sizes[f] += int(counts[i])
    fold = np.asarray([fold_of[str(x)] for x in g])
    idx = np.arange(len(g))
    return [(idx[fold != f], idx[fold == f]) for f in range(k)]


@dataclass
class CVResult:
    scores: FloatArray  # out-of-fold scores, aligned with the examples
    weak_q: FloatArray
    strong_q: FloatArray
    fold_apgr: list[float] = field(default_factory=list)
    fold_groups: list[list[str]] = field(default_factory=list)

    @property
    def report(self) -> M.RouterReport:
        return M.report(self.scores, self.weak_q, self.strong_q)


def cross_validate(
    examples: Sequence[Example],
    k: int = 5,
    config: TrainConfig = TrainConfig(),
    x: FloatArray | None = None,
    exclude_groups: Sequence[str] = (),
) -> CVResult:
    """Out-of-fold scores for every example. ``exclude_groups`` are left out of every training
    set (known-bad labels) but still scored and evaluated when their fold is held out."""
    feats = x if x is not None else feature_matrix([e.prompt for e in examples])
    weak = np.asarray([e.weak_q for e in examples], dtype=np.float64)
    strong = np.asarray([e.strong_q for e in examples], dtype=np.float64)
    groups = [e.group for e in examples]
    scores = np.zeros(len(examples))
    result = CVResult(scores, weak, strong)
    excluded = np.asarray([grp in set(exclude_groups) for grp in groups], dtype=bool)
    for tr, te in group_folds(groups, k):
        tr = tr[~excluded[tr]]
        art = train_from_features(feats[tr], weak[tr], strong[tr], config)
        router = Router(art)
        scores[te] = router.to_score(router.raw_from_features(feats[te]))
        gap = strong[te].mean() - weak[te].mean()
        result.fold_apgr.append(M.apgr(scores[te], weak[te], strong[te]) if gap > 0 else float("nan"))
        result.fold_groups.append(sorted({groups[i] for i in te}))
    return result


def calibration_points(res: CVResult, step: float = 0.05) -> list[dict[str, float]]:
    """Held-out PGR at strong shares 0, step, …, 1 (pooled out-of-fold curve), for
    ``Artifact.meta["calibration"]``: the gateway maps a PGR target to a share, and the
    share ``x`` to the threshold ``1 - x`` (scores are reference quantiles)."""
    shares = np.round(np.arange(0.0, 1.0 + 1e-9, step), 6)
    return [
        {"share": float(x), "pgr": round(M.pgr_at(res.scores, res.weak_q, res.strong_q, float(x)), 4)} for x in shares
    ]


def format_table(rows: list[tuple[str, M.RouterReport]], weak_acc: float, strong_acc: float, n: int) -> str:
    lines = [
        f"prompts: {n}   weak quality: {weak_acc:.4f}   strong quality: {strong_acc:.4f}",
        f"{'router':<34} {'APGR':>7} {'APGR@10':>8} {'CPT(50%)':>9} {'CPT(80%)':>9} {'PGR@30%':>8}",
    ]
    for name, r in rows:
        lines.append(
            f"{name:<34} {r.apgr:>7.4f} {r.apgr_binned:>8.4f} {r.cpt50 * 100:>8.1f}% {r.cpt80 * 100:>8.1f}%"
            f" {r.pgr_at_30:>8.3f}"
        )
    return "\n".join(lines)
