"""Router metrics from the RouteLLM paper: PGR(x), APGR, CPT(p), plus random and oracle baselines.

A router's scores rank the prompts; sending the top-``k`` to the strong model gives quality
``Q(k) = (sum(weak_q) + sum of gains of the top k) / n`` at strong-call share ``x = k / n``.

- ``PGR(x) = (Q(x) - Q_weak) / (Q_strong - Q_weak)`` (performance gap recovered);
- ``APGR``  = the area under PGR(x) for x in [0, 1] (random routing = 0.5 in expectation);
- ``CPT(p)`` = the smallest strong-call share at which PGR reaches ``p`` (call-performance threshold).

Ties in the scores are broken at random in expectation: within a block of equal scores the
curve is a straight line between the block's ends, so a constant-score router traces the
diagonal exactly (APGR 0.5, CPT(50%) = 50%). ``apgr`` integrates over every tie boundary
(the full sweep); ``apgr_binned`` reproduces RouteLLM's 10-quantile-threshold estimate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

FloatArray = NDArray[np.float64]


def _arrays(scores: ArrayLike, weak_q: ArrayLike, strong_q: ArrayLike) -> tuple[FloatArray, ...]:
    s = np.asarray(scores, dtype=np.float64).ravel()
    w = np.asarray(weak_q, dtype=np.float64).ravel()
    st = np.asarray(strong_q, dtype=np.float64).ravel()
    if not (len(s) == len(w) == len(st)) or len(s) == 0:
        raise ValueError("scores, weak_q and strong_q must be non-empty and of equal length")
    return s, w, st


def quality_curve(scores: ArrayLike, weak_q: ArrayLike, strong_q: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """(strong-call share, mean quality) at every tie-block boundary, from share 0 to 1."""
    s, w, st = _arrays(scores, weak_q, strong_q)
    n = len(s)
    order = np.argsort(-s, kind="stable")
    s_sorted = s[order]
    gain = (st - w)[order]
    cum = np.concatenate([[0.0], np.cumsum(gain)])
    # boundaries: k = 0, and after the last element of every block of equal scores
    ends = np.flatnonzero(np.diff(s_sorted) != 0) + 1
    ks = np.concatenate([[0], ends, [n]])
    share = ks / n
    quality = (w.sum() + cum[ks]) / n
    return share.astype(np.float64), quality.astype(np.float64)


def pgr_curve(scores: ArrayLike, weak_q: ArrayLike, strong_q: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """(strong-call share, PGR) at every tie-block boundary."""
    s, w, st = _arrays(scores, weak_q, strong_q)
    gap = st.mean() - w.mean()
    if gap <= 0:
        raise ValueError("strong model is not better than weak model on this set: PGR undefined")
    share, quality = quality_curve(s, w, st)
    return share, (quality - w.mean()) / gap


def apgr(scores: ArrayLike, weak_q: ArrayLike, strong_q: ArrayLike) -> float:
    """Area under PGR(share) over [0, 1], exact over the full threshold sweep."""
    share, pgr = pgr_curve(scores, weak_q, strong_q)
    return float(np.sum((share[1:] - share[:-1]) * (pgr[1:] + pgr[:-1]) / 2.0))


def pgr_at(scores: ArrayLike, weak_q: ArrayLike, strong_q: ArrayLike, share: float) -> float:
    """PGR when a fraction ``share`` of calls goes to the strong model (linear between boundaries)."""
    xs, pgr = pgr_curve(scores, weak_q, strong_q)
    return float(np.interp(share, xs, pgr))


def cpt(scores: ArrayLike, weak_q: ArrayLike, strong_q: ArrayLike, pgr_target: float) -> float:
    """Smallest strong-call share at which PGR reaches ``pgr_target`` (first crossing)."""
    xs, pgr = pgr_curve(scores, weak_q, strong_q)
    hit = np.flatnonzero(pgr >= pgr_target - 1e-12)
    if len(hit) == 0:
        return 1.0
    i = int(hit[0])
    if i == 0:
        return 0.0
    x0, x1, y0, y1 = xs[i - 1], xs[i], pgr[i - 1], pgr[i]
    return float(x0 + (pgr_target - y0) * (x1 - x0) / (y1 - y0)) if y1 != y0 else float(x1)


def apgr_binned(scores: ArrayLike, weak_q: ArrayLike, strong_q: ArrayLike, bins: int = 10) -> float:
    """RouteLLM's estimate: thresholds at the ``bins``-quantiles of the scores, ``>=`` each threshold
    goes strong (``>`` for the maximum), trapezoid over the resulting shares."""
    s, w, st = _arrays(scores, weak_q, strong_q)
    thresholds = np.quantile(s, np.linspace(0, 1, bins + 1))
    gap = st.mean() - w.mean()
    pts = []
    for i, t in enumerate(thresholds):
        sel = s > t if i == len(thresholds) - 1 else s >= t
        q = np.where(sel, st, w).mean()
        pts.append((sel.mean(), (q - w.mean()) / gap))
    pts.sort()
    x = np.array([p[0] for p in pts])
    y = np.array([p[1] for p in pts])
    return float(np.sum((x[1:] - x[:-1]) * (y[1:] + y[:-1]) / 2.0))


@dataclass(frozen=True)
class RouterReport:
    apgr: float
    apgr_binned: float
    cpt50: float
    cpt80: float
    pgr_at_30: float


def report(scores: ArrayLike, weak_q: ArrayLike, strong_q: ArrayLike) -> RouterReport:
    return RouterReport(
        apgr=apgr(scores, weak_q, strong_q),
        apgr_binned=apgr_binned(scores, weak_q, strong_q),
        cpt50=cpt(scores, weak_q, strong_q, 0.5),
        cpt80=cpt(scores, weak_q, strong_q, 0.8),
        pgr_at_30=pgr_at(scores, weak_q, strong_q, 0.3),
    )


def random_scores(n: int) -> FloatArray:
    """A router that knows nothing: every prompt ties (its curve is the expected random curve)."""
    return np.zeros(n, dtype=np.float64)


def oracle_scores(weak_q: ArrayLike, strong_q: ArrayLike) -> FloatArray:
    """The best possible router: it ranks prompts by their true gain ``strong_q - weak_q``."""
    return np.asarray(strong_q, dtype=np.float64) - np.asarray(weak_q, dtype=np.float64)
