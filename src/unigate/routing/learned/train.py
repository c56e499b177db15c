"""Training: two L2-regularized logistic heads (strong ok / weak ok) in numpy, fixed recipe.

Recipe (fixed, not tuned per fold): standardize the dense features on the training set, fit
``P(strong_q)`` and ``P(weak_q)`` by Newton's method on the mean log-loss plus
``l2/2·|w|²`` (soft targets allowed), score = the difference of the two probabilities (the
expected quality gain). The reference quantiles of that gain on the training prompts turn it
into the [0, 1] score (see ``model.py``).

Why two heads rather than one classifier on "weak wrong": a prompt the weak model gets
wrong is often one the strong model gets wrong too (no gain), and ranking by expected gain
is what maximizes quality at a given strong-call share. Held-out numbers of the variants we
tried are in ``README.md`` next to this file.
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


# Prior for open-ended prompts (no answer options), in units of expected quality gain, added to
# the learned gain. MMLU (all multiple choice) cannot teach how chat, math word problems or code
# requests differ, so these weights are set by hand from what is known about weak vs strong
# models (the strong model's lead is largest on math, code and multi-step reasoning, smallest
# on creative writing and role-play); they have no effect on multiple-choice prompts and so
# none on the MMLU evaluation. Features are log1p counts; an artifact stores its own copy.
DEFAULT_OPEN_PRIOR: dict[str, float] = {
    "log_numbers": 0.030,
    "quant_words": 0.030,
    "math_ops": 0.020,
    "equations": 0.020,
    "latex": 0.020,
    "money": 0.015,
    "units": 0.010,
    "code": 0.030,
    "code_words": 0.030,
    "reason_words": 0.030,
    "step_words": 0.015,
    "conditional": 0.015,
    "causal": 0.010,
    "creative": -0.060,
}


# never given a learned weight: the bias is the intercept, and the option-count features only
# gate the open-ended prior (all of MMLU has options, so their weights would come from noise)
UNLEARNED: tuple[str, ...] = ("bias", "n_options", "has_options")


@dataclass(frozen=True)
class TrainConfig:
    l2: float = 0.01  # on the mean log-loss (≈ sklearn C = 1 / (l2 · n))
    n_quantiles: int = 101
    max_iter: int = 50
    open_prior: tuple[tuple[str, float], ...] = tuple(DEFAULT_OPEN_PRIOR.items())


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
    """Column mean / std ignoring NaN (not-applicable features); constant columns get scale 1."""
    finite = np.isfinite(x)
    counts = finite.sum(axis=0)
    filled = np.where(finite, x, 0.0)
    mean = np.divide(filled.sum(axis=0), counts, out=np.zeros(x.shape[1]), where=counts > 0)
    dev = np.where(finite, x - mean, 0.0)
    scale = np.sqrt(np.divide((dev**2).sum(axis=0), counts, out=np.zeros(x.shape[1]), where=counts > 0))
    scale[scale < 1e-9] = 1.0
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
    xs = np.where(np.isfinite(x), (x - mean) / scale, 0.0)
    const = np.all(xs == 0.0, axis=0)
    const[[F.DENSE_NAMES.index(n) for n in UNLEARNED]] = True
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
        open_prior=dict(config.open_prior),
        meta=info,
    )


def train(
    examples: Sequence[Example],
    config: TrainConfig = TrainConfig(),
    meta: dict[str, object] | None = None,
    x: FloatArray | None = None,
    exclude_groups: Sequence[str] = (),
) -> Artifact:
    """Train on examples (``x``: their precomputed feature matrix, optional), skipping
    examples whose group is in ``exclude_groups`` (e.g. ``data.MMLU_LABEL_ARTIFACTS``)."""
    feats = x if x is not None else feature_matrix([e.prompt for e in examples])
    if exclude_groups:
        keep = [i for i, e in enumerate(examples) if e.group not in set(exclude_groups)]
        examples = [examples[i] for i in keep]
        feats = feats[keep]
    weak = np.asarray([e.weak_q for e in examples], dtype=np.float64)
    strong = np.asarray([e.strong_q for e in examples], dtype=np.float64)
    groups = sorted({e.group for e in examples if e.group})
    info: dict[str, object] = {"groups": len(groups), "excluded_groups": list(exclude_groups)}
    info.update(meta or {})
    return train_from_features(feats, weak, strong, config, info)
