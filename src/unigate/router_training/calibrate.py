"""Threshold calibration: pick the score threshold that meets a routing target on sample prompts.

Semantic everywhere: **a prompt goes to the strong model iff score ≥ threshold.**

- ``for_strong_share(scores, 0.3)``: at most ~30% of calls to the strong model: the threshold
  is the smallest score such that the share of sample scores ≥ it does not exceed the target
  (with ties it may fall below the target, never above it on the sample).
- ``for_pgr(scores, weak_q, strong_q, 0.9)``: the lowest strong share whose PGR on the
  labelled sample reaches the target, and the threshold that produces it.

Both need prompts that look like the traffic the gateway will see; the share target carries
over to new prompts from the same distribution (tests check this on held-out prompts).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from unigate.router_training import metrics as M


@dataclass(frozen=True)
class Calibration:
    threshold: float
    strong_share: float  # share of the calibration sample with score >= threshold
    n: int
    target: str
    pgr: float | None = None  # PGR at that threshold, when the sample is labelled

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


def _share(scores: np.ndarray, threshold: float) -> float:
    return float(np.mean(scores >= threshold))


def _pgr_at_threshold(scores: np.ndarray, weak: np.ndarray, strong: np.ndarray, t: float) -> float:
    gap = strong.mean() - weak.mean()
    q = np.where(scores >= t, strong, weak).mean()
    return float((q - weak.mean()) / gap) if gap > 0 else float("nan")


def threshold_for_share(scores: ArrayLike, share: float) -> float:
    """Smallest threshold whose strong share on ``scores`` is ≤ ``share``."""
    s = np.sort(np.asarray(scores, dtype=np.float64))[::-1]
    if not 0.0 <= share <= 1.0:
        raise ValueError("strong share must be in [0, 1]")
    n = len(s)
    if n == 0:
        raise ValueError("need at least one score")
    k = math.floor(share * n + 1e-9)  # number of strong calls allowed
    if k >= n:
        return 0.0
    # threshold just above the (k+1)-th largest score: everything strictly above it goes strong
    nxt = float(s[k])
    return float(np.nextafter(nxt, np.inf))


def for_strong_share(scores: ArrayLike, share: float) -> Calibration:
    s = np.asarray(scores, dtype=np.float64)
    t = threshold_for_share(s, share)
    return Calibration(threshold=t, strong_share=_share(s, t), n=len(s), target=f"strong_share<={share}")


def for_pgr(scores: ArrayLike, weak_q: ArrayLike, strong_q: ArrayLike, target: float) -> Calibration:
    """Lowest threshold-able strong share reaching PGR ≥ ``target`` on the labelled sample."""
    s = np.asarray(scores, dtype=np.float64)
    w = np.asarray(weak_q, dtype=np.float64)
    st = np.asarray(strong_q, dtype=np.float64)
    if st.mean() - w.mean() <= 0:
        raise ValueError("the strong model is not better than the weak one on this sample")
    # candidate thresholds: every distinct score, highest first (share grows as t falls)
    best_t = 0.0
    for t in np.unique(s)[::-1]:
        if _pgr_at_threshold(s, w, st, float(t)) >= target - 1e-12:
            best_t = float(t)
            break
    return Calibration(
        threshold=best_t,
        strong_share=_share(s, best_t),
        n=len(s),
        target=f"pgr>={target}",
        pgr=_pgr_at_threshold(s, w, st, best_t),
    )


def curve_summary(scores: ArrayLike, weak_q: ArrayLike, strong_q: ArrayLike) -> M.RouterReport:
    return M.report(scores, weak_q, strong_q)
