"""Training: two L2-regularized logistic heads (strong ok / weak ok) in numpy, fixed recipe.

Recipe (fixed, not tuned per fold): standardize the dense features on the training set, fit
``P(strong_q)`` and ``P(weak_q)`` by Newton's method on the mean log-loss plus
``l2/2·|w|²`` (soft targets allowed), score = the difference of the two probabilities (the
expected quality gain). The reference quantiles of that gain on the training prompts turn it
into the [0, 1] score (see ``model.py``).

Why two heads rather than one classifier on "weak wrong": a prompt the weak model gets
wrong is often one the strong model gets wrong too (no gain), and ranking by expected gain
is what maximizes quality at a given strong-call share. Held-out numbers of the variants we
tried are in ``docs/routing/learned.md``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from unigate.routing.learned import features as F
from unigate.routing.learned.data import Example
from unigate.routing.learned.lexicon import load_zipf
from unigate.routing.learned.model import Artifact

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class TrainConfig:
    l2: float = 0.01  # on the mean log-loss (≈ sklearn C = 1 / (l2 · n))
    n_quantiles: int = 101
    max_iter: int = 50


def feature_matrix(prompts: Sequence[str], zipf: dict[str, float] | None = None) -> FloatArray:
    z = zipf if zipf is not None else load_zipf()
    return np.asarray([F.dense_list(p, z) for p in prompts], dtype=np.float64).reshape(len(prompts), -1)


def fit_logistic(
    x: FloatArray, y: FloatArray, l2: float, max_iter: int = 50, tol: float = 1e-8
) -> tuple[FloatArray, float]:
    """Newton's method for mean log-loss + l2/2·|w|² (bias unpenalized). ``y`` may be soft (0..1)."""
    n, d = x.shape
    xb = np.hstack([x, np.ones((n, 1))])
    theta = np.zeros(d + 1)
    ybar = float(np.clip(y.mean(), 1e-6, 1 - 1e-6))
    theta[-1] = np.log(ybar / (1 - ybar))
    reg = np.full(d + 1, l2)
    reg[-1] = 0.0
    for _ in range(max_iter):
        p = 0.5 * (1.0 + np.tanh(0.5 * (xb @ theta)))
        grad = xb.T @ (p - y) / n + reg * theta
        hess = (xb.T * (p * (1 - p))) @ xb / n + np.diag(reg) + 1e-10 * np.eye(d + 1)
        step = np.linalg.solve(hess, grad)
        theta -= step
        if float(np.max(np.abs(step))) < tol:
            break
    return theta[:-1].copy(), float(theta[-1])


def standardize_stats(x: FloatArray) -> tuple[FloatArray, FloatArray]:
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    constant = scale < 1e-9
    scale[constant] = 1.0
    mean[constant] = x[0, constant] if len(x) else 0.0  # constant columns contribute nothing
    return mean, scale


def train_from_features(
    x: FloatArray,
    weak_q: FloatArray,
    strong_q: FloatArray,
    config: TrainConfig = TrainConfig(),
    meta: dict[str, object] | None = None,
) -> Artifact:
    if len(x) < 10:
        raise ValueError(f"need at least 10 training examples, got {len(x)}")
    mean, scale = standardize_stats(x)
    xs = (x - mean) / scale
    const = np.isclose(x.std(axis=0), 0.0)
    xs[:, const] = 0.0
    w_s, b_s = fit_logistic(xs, np.asarray(strong_q, dtype=np.float64), config.l2, config.max_iter)
    w_w, b_w = fit_logistic(xs, np.asarray(weak_q, dtype=np.float64), config.l2, config.max_iter)
    w_s[const] = 0.0
    w_w[const] = 0.0

    def sig(z: FloatArray) -> FloatArray:
        return 0.5 * (1.0 + np.tanh(0.5 * z))

    raw = sig(xs @ w_s + b_s) - sig(xs @ w_w + b_w)
    quantiles = np.quantile(raw, np.linspace(0.0, 1.0, config.n_quantiles))
    quantiles = np.maximum.accumulate(quantiles)
    info: dict[str, object] = {
        "n_train": len(x),
        "weak_quality": float(np.mean(weak_q)),
        "strong_quality": float(np.mean(strong_q)),
        "l2": config.l2,
        "trained_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "recipe": "two logistic heads (strong ok, weak ok) on dense features; raw = P(strong) - P(weak)",
    }
    info.update(meta or {})
    return Artifact(
        feature_names=F.DENSE_NAMES,
        mean=mean.tolist(),
        scale=scale.tolist(),
        w_strong=w_s.tolist(),
        b_strong=b_s,
        w_weak=w_w.tolist(),
        b_weak=b_w,
        ref_quantiles=[float(v) for v in quantiles],
        meta=info,
    )


def train(
    examples: Sequence[Example],
    config: TrainConfig = TrainConfig(),
    meta: dict[str, object] | None = None,
    x: FloatArray | None = None,
) -> Artifact:
    """Train on examples (``x``: their precomputed feature matrix, optional)."""
    feats = x if x is not None else feature_matrix([e.prompt for e in examples])
    weak = np.asarray([e.weak_q for e in examples], dtype=np.float64)
    strong = np.asarray([e.strong_q for e in examples], dtype=np.float64)
    groups = sorted({e.group for e in examples if e.group})
    info: dict[str, object] = {"groups": len(groups)}
    info.update(meta or {})
    return train_from_features(feats, weak, strong, config, info)
