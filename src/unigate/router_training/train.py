"""Training the v2 router (``routing/learned/model.py``): logistic heads over hand features + hashed n-grams.

Recipe (fixed; chosen on the held-out numbers in docs/auto-routing.md):

- **design**: the ~50 hand features standardized on the training prompts (NaN → 0) and/or the
  prompt's hash slots (``routing/learned/hashing.py``), L2-normalized;
- **targets**: ``strong`` / ``weak`` = the calibrated success of each row's evaluation pair
  (``sources.py``: correctness, or a judge grade mapped to [0, 1]); one head per model profile
  with at least ``min_profile_rows`` rows. Soft targets are fitted as two weighted copies of a row;
- **per-source calibration**: one indicator column per training source is added while fitting
  (source fixed effects), so the content weights learn what makes a prompt harder *within* a
  source rather than which benchmark it came from; at inference the indicators are replaced by
  their training-share-weighted mean (folded into the bias);
- **profiles share their content model**: each profile head keeps ``profile_own_weight`` of its
  own content weights, the rest is the mean over profiles (how easy the prompt is), and the
  profiles' biases are re-fitted jointly with shared per-source levels (``align_profile_levels``);
- **balance**: each source weighs ``n_s ** -0.5`` per row (so 14k MMLU rows do not drown 292
  Arena rows, nor count the same as one);
- L2-regularized logistic regression (scikit-learn, ``train`` extra), ``C`` fixed.

``raw = P(strong) - P(weak)``; the artifact keeps its quantiles on the training prompts.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from unigate.routing.learned import features as F
from unigate.routing.learned.hashing import slots
from unigate.routing.learned.lexicon import load_zipf
from unigate.routing.learned.model import Artifact, Router

FloatArray = NDArray[np.float64]
REPRESENTATIONS = ("hand", "hash", "mix")
# measured only (``router eval --embeddings``): the local model's prompt embeddings, alone or added
EMBEDDING_REPRESENTATIONS = ("emb", "hand+emb", "mix+emb")


@dataclass(frozen=True)
class Recipe:
    representation: str = "mix"  # hand | hash | mix (| emb | hand+emb | mix+emb: evaluation only)
    buckets: int = 1 << 12
    c: float = 1.0
    fixed_effects: bool = True
    balance_sources: bool = True
    min_profile_rows: int = 500
    n_quantiles: int = 101
    profiles: bool = True  # also fit one head per model profile
    max_rows_per_source: int = 1000  # a fixed sample of larger sources (weights are balanced anyway)
    score: str = "gain"  # gain: P(strong) - P(weak) | weak_failure: 1 - P(weak)
    only_profiles: tuple[str, ...] | None = None  # fit just these profile heads (evaluation speed)
    # profile heads keep this share of their own content weights; the rest is the profiles' mean
    # (a shared "how easy is this prompt"): per-model differences barely transfer to new sources
    profile_own_weight: float = 0.25


@dataclass
class Featurized:
    """Raw features of a list of prompts (computed once, reused by every fold and head)."""

    dense: FloatArray  # (n, d) hand features, NaN where not applicable
    slots: list[NDArray[np.int64]]
    buckets: int
    emb: FloatArray | None = None  # (n, e) local-model embeddings (``embeddings.py``), evaluation only

    def take(self, idx: Sequence[int] | NDArray[np.int64]) -> Featurized:
        ix = np.asarray(idx, dtype=np.int64)
        emb = self.emb[ix] if self.emb is not None else None
        return Featurized(self.dense[ix], [self.slots[i] for i in ix], self.buckets, emb)


def cap_per_source(sources: Sequence[str], cap: int, seed: int = 0) -> NDArray[np.int64]:
    """Indices keeping at most ``cap`` rows of every source (a fixed random sample), in order."""
    keys = np.asarray(sources)
    rng = np.random.default_rng(seed)
    keep: list[NDArray[np.int64]] = []
    for name in sorted(set(keys.tolist())):
        idx = np.flatnonzero(keys == name)
        keep.append(idx if len(idx) <= cap else np.sort(rng.choice(idx, cap, replace=False)))
    return np.sort(np.concatenate(keep)) if keep else np.zeros(0, dtype=np.int64)


def featurize(prompts: Sequence[str], buckets: int = Recipe.buckets) -> Featurized:
    zipf = load_zipf()
    dense = np.asarray([F.dense_list(p, zipf) for p in prompts], dtype=np.float64).reshape(len(prompts), -1)
    return Featurized(dense, [slots(p, buckets) for p in prompts], buckets)


def featurize_cached(prompts: Sequence[str], buckets: int, cache: str | None) -> Featurized:
    """``featurize``, reusing ``cache`` (an .npz) when it was built for the same prompts and buckets."""
    import hashlib
    from pathlib import Path

    digest = hashlib.sha256("\x00".join(prompts).encode()).hexdigest()
    if cache and Path(cache).exists():
        with np.load(cache, allow_pickle=False) as z:
            if str(z["digest"]) == digest and int(z["buckets"]) == buckets:
                lengths = z["lengths"]
                flat = z["slots"]
                bounds = np.concatenate([[0], np.cumsum(lengths)])
                return Featurized(z["dense"], [flat[a:b] for a, b in itertools.pairwise(bounds)], buckets)
    feats = featurize(prompts, buckets)
    if cache:
        lengths = np.asarray([len(s) for s in feats.slots], dtype=np.int64)
        flat = np.concatenate(feats.slots) if feats.slots else np.zeros(0, dtype=np.int64)
        np.savez(cache, digest=np.asarray(digest), buckets=buckets, dense=feats.dense, slots=flat, lengths=lengths)
    return feats


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


def _design(
    feats: Featurized,
    mean: FloatArray,
    scale: FloatArray,
    recipe: Recipe,
    emb_stats: tuple[FloatArray, FloatArray] | None = None,
) -> Any:
    from scipy import sparse

    n, d = feats.dense.shape
    blocks = []
    base = recipe.representation.removesuffix("+emb")
    if base in ("hand", "mix"):
        blocks.append(sparse.csr_matrix(np.where(np.isfinite(feats.dense), (feats.dense - mean) / scale, 0.0)))
    else:
        blocks.append(sparse.csr_matrix((n, d)))
    if base in ("hash", "mix"):
        lengths = np.asarray([len(s) for s in feats.slots])
        indptr = np.concatenate([[0], np.cumsum(lengths)])
        cols = np.concatenate(feats.slots) if n else np.zeros(0, dtype=np.int64)
        vals = np.repeat(1.0 / np.sqrt(np.maximum(lengths, 1)), lengths)
        blocks.append(sparse.csr_matrix((vals, cols, indptr), shape=(n, feats.buckets)))
    else:
        blocks.append(sparse.csr_matrix((n, feats.buckets)))
    if "emb" in recipe.representation.split("+"):
        if feats.emb is None or emb_stats is None:
            raise ValueError(f"representation {recipe.representation!r} needs prompt embeddings")
        blocks.append(sparse.csr_matrix((feats.emb - emb_stats[0]) / emb_stats[1]))
    return sparse.hstack(blocks, format="csr")


@dataclass
class Head:
    w: FloatArray  # over [dense | hash]
    b: float


def fit_head(
    x: Any, y: FloatArray, weight: FloatArray, groups: NDArray[np.int64] | None, n_groups: int, c: float
) -> Head:
    """Weighted L2 logistic regression with soft targets; ``groups`` adds fixed effects that are
    averaged away (by weight) in the returned bias."""
    from scipy import sparse
    from sklearn.linear_model import LogisticRegression

    n = x.shape[0]
    design = x
    if groups is not None and n_groups > 1:
        design = sparse.hstack([x, sparse.csr_matrix((np.ones(n), (np.arange(n), groups)), shape=(n, n_groups))])
    y = np.clip(y, 0.0, 1.0)
    # every row appears as a success with weight y and as a failure with weight 1 - y (soft targets)
    w_all = np.concatenate([weight * y, weight * (1 - y)])
    keep = w_all > 0
    rows = np.concatenate([np.arange(n), np.arange(n)])[keep]
    labels = np.concatenate([np.ones(n, dtype=int), np.zeros(n, dtype=int)])[keep]
    w = w_all[keep]
    if labels.min() == labels.max():
        p = float(labels[0])
        return Head(np.zeros(x.shape[1]), float(np.log((p + 1e-3) / (1 - p + 1e-3))))
    w = w * (len(w) / w.sum())
    model = LogisticRegression(C=c, max_iter=200, tol=1e-4)
    model.fit(design[rows], labels, sample_weight=w)
    coef = model.coef_[0]
    bias = float(model.intercept_[0])
    if design is not x:
        effects = coef[x.shape[1] :]
        share = np.bincount(groups, weights=weight, minlength=n_groups) if groups is not None else np.ones(n_groups)
        bias += float(effects @ (share / share.sum()))
        coef = coef[: x.shape[1]]
    return Head(np.asarray(coef, dtype=np.float64), bias)


@dataclass
class Targets:
    """Per head: target values and the rows that have one."""

    names: list[str]
    values: list[FloatArray]
    rows: list[NDArray[np.int64]]
    sources: NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, dtype=np.int64))


def build_targets(rows: Sequence[Any], recipe: Recipe) -> Targets:
    """``strong``/``weak`` from each row's evaluation pair; a head per profile with enough rows."""
    n = len(rows)
    names = ["strong", "weak"]
    values = [np.asarray([r.example.strong_q for r in rows]), np.asarray([r.example.weak_q for r in rows])]
    idx = [np.arange(n), np.arange(n)]
    if recipe.profiles:
        counts: dict[str, int] = {}
        for r in rows:
            for p in r.scores:
                counts[p] = counts.get(p, 0) + 1
        wanted = [p for p, c in counts.items() if c >= recipe.min_profile_rows]
        if recipe.only_profiles is not None:
            wanted = [p for p in wanted if p in recipe.only_profiles]
        for profile in sorted(wanted):
            have = np.asarray([i for i, r in enumerate(rows) if profile in r.scores], dtype=np.int64)
            names.append(profile)
            values.append(np.asarray([rows[i].scores[profile] for i in have]))
            idx.append(have)
    source_names = sorted({r.source for r in rows})
    sources = np.asarray([source_names.index(r.source) for r in rows], dtype=np.int64)
    return Targets(names, values, idx, sources)


def row_weights(sources: NDArray[np.int64], balance: bool) -> FloatArray:
    if not balance or len(sources) == 0:
        return np.ones(len(sources))
    counts = np.bincount(sources)
    return np.asarray(1.0 / np.sqrt(counts[sources]), dtype=np.float64)


def train_artifact(
    rows: Sequence[Any],
    feats: Featurized,
    recipe: Recipe = Recipe(),
    meta: dict[str, Any] | None = None,
    progress: Callable[[str], None] | None = None,
) -> Artifact:
    """Fit every head on ``rows`` (``sources.Row``; ``feats`` aligned with them)."""
    if len(rows) < 20:
        raise ValueError(f"need at least 20 training rows, got {len(rows)}")
    if recipe.max_rows_per_source:
        keep = cap_per_source([r.source for r in rows], recipe.max_rows_per_source)
        if len(keep) < len(rows):
            rows = [rows[i] for i in keep]
            feats = feats.take(keep)
    mean, scale = standardize_stats(feats.dense)
    x = _design(feats, mean, scale, recipe)
    targets = build_targets(rows, recipe)
    weight = row_weights(targets.sources, recipe.balance_sources)
    n_groups = int(targets.sources.max()) + 1 if len(targets.sources) else 0
    d = feats.dense.shape[1]
    heads: list[Head] = []
    for name, y, have in zip(targets.names, targets.values, targets.rows, strict=True):
        if progress:
            progress(f"head {name}: {len(have)} rows")
        groups = targets.sources[have] if recipe.fixed_effects else None
        heads.append(fit_head(x[have], y, weight[have], groups, n_groups, recipe.c))
    w_all = np.stack([h.w for h in heads], axis=1)
    profile_cols = [i for i, name in enumerate(targets.names) if name not in ("strong", "weak")]
    if len(profile_cols) > 1:
        shared = w_all[:, profile_cols].mean(axis=1, keepdims=True)
        own = recipe.profile_own_weight
        w_all[:, profile_cols] = own * w_all[:, profile_cols] + (1.0 - own) * shared
    bias = np.asarray([h.b for h in heads])
    art = Artifact(
        heads=tuple(targets.names),
        dense_names=F.DENSE_NAMES,
        mean=mean,
        scale=scale,
        w_dense=w_all[:d],
        w_hash=w_all[d:].astype(np.float32),
        bias=bias,
        ref_quantiles=np.zeros(2),
        meta={"score": recipe.score},
    )
    if recipe.profiles:
        bias = align_profile_levels(art, rows, feats, targets, weight)
        art = Artifact(
            art.heads, art.dense_names, mean, scale, art.w_dense, art.w_hash, bias, art.ref_quantiles, art.meta
        )
    raw = gains(Router(art), feats)
    quantiles = np.maximum.accumulate(np.quantile(raw, np.linspace(0.0, 1.0, recipe.n_quantiles)))
    info: dict[str, Any] = {
        "score": recipe.score,
        "n_train": len(rows),
        "recipe": {
            "representation": recipe.representation,
            "buckets": recipe.buckets,
            "c": recipe.c,
            "fixed_effects": recipe.fixed_effects,
            "balance_sources": recipe.balance_sources,
            "max_rows_per_source": recipe.max_rows_per_source,
            "profile_own_weight": recipe.profile_own_weight,
            "rows_used": len(rows),
        },
        "trained_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    info.update(meta or {})
    return Artifact(
        heads=art.heads,
        dense_names=art.dense_names,
        mean=mean,
        scale=scale,
        w_dense=art.w_dense,
        w_hash=art.w_hash,
        bias=art.bias,
        ref_quantiles=np.asarray(quantiles, dtype=np.float64),
        meta=info,
    )


def heldout_gains(rows: Sequence[Any], feats: Featurized, test: Featurized, recipe: Recipe) -> FloatArray:
    """``P(strong) - P(weak)`` on ``test`` from the ``strong``/``weak`` heads fitted on ``rows`` exactly
    as ``train_artifact`` fits them, without building an artifact (which cannot hold embedding
    weights): the evaluation path of the embedding representations."""
    if recipe.max_rows_per_source:
        keep = cap_per_source([r.source for r in rows], recipe.max_rows_per_source)
        rows, feats = [rows[i] for i in keep], feats.take(keep)
    mean, scale = standardize_stats(feats.dense)
    emb_stats = None
    if feats.emb is not None:
        emb_stats = (feats.emb.mean(axis=0), feats.emb.std(axis=0) + 1e-6)
    x = _design(feats, mean, scale, recipe, emb_stats)
    x_test = _design(test, mean, scale, recipe, emb_stats)
    targets = build_targets(rows, replace(recipe, profiles=False))
    weight = row_weights(targets.sources, recipe.balance_sources)
    n_groups = int(targets.sources.max()) + 1
    groups = targets.sources if recipe.fixed_effects else None
    strong, weak = (fit_head(x, y, weight, groups, n_groups, recipe.c) for y in targets.values[:2])
    logit = np.stack([x_test @ strong.w + strong.b, x_test @ weak.w + weak.b], axis=1)
    p = 0.5 * (1.0 + np.tanh(0.5 * logit))
    return np.asarray(p[:, 0] - p[:, 1], dtype=np.float64)


def fit_offsets(
    offset: FloatArray, y: FloatArray, weight: FloatArray, columns: NDArray[np.int64], n_columns: int, iters: int = 100
) -> FloatArray:
    """Weighted logistic regression of soft ``y`` on indicator ``columns`` (one or more per row,
    shape (n, k)) with a fixed per-row ``offset``: damped Newton's method with a unit ridge
    (weights normalized to mean 1, so the ridge is a weak prior next to thousands of rows)."""
    weight = weight * (len(weight) / max(float(weight.sum()), 1e-12))
    theta = np.zeros(n_columns)
    for _ in range(iters):
        z = offset + theta[columns].sum(axis=1)
        p = 0.5 * (1.0 + np.tanh(0.5 * z))
        grad = theta.copy()
        hess = np.eye(n_columns)
        r = weight * (p - y)
        v = weight * p * (1 - p)
        for a in range(columns.shape[1]):
            grad += np.bincount(columns[:, a], weights=r, minlength=n_columns)
            for b in range(columns.shape[1]):
                np.add.at(hess, (columns[:, a], columns[:, b]), v)
        step = np.linalg.solve(hess, grad)
        biggest = float(np.max(np.abs(step)))
        if biggest > 1.0:  # damped: never more than one logit unit per iteration
            step /= biggest
        theta -= step
        if biggest < 1e-8:
            break
    return theta


def align_profile_levels(
    art: Artifact, rows: Sequence[Any], feats: Featurized, targets: Targets, weight: FloatArray
) -> FloatArray:
    """Biases of the profile heads re-fitted jointly: ``logit = f_m(x) + a_m + s_source``, with one
    ``s_source`` shared by every profile. Separately fitted heads average different sources'
    difficulty into their biases (a model seen only on hard math would look weak); sharing the
    source levels makes the profiles' predicted success comparable, which the N-model choice needs."""
    router = Router(art)
    x = np.where(np.isnan(feats.dense), router._mean, feats.dense)
    base = (x - router._mean) @ router._w  # content logits without the bias
    for i, s in enumerate(feats.slots):
        if len(s):
            base[i] += router._w_hash[s].sum(axis=0, dtype=np.float64) / np.sqrt(len(s))
    n_sources = int(targets.sources.max()) + 1
    heads = list(art.heads)
    offs, ys, ws, cols = [], [], [], []
    profile_heads = [h for h in heads if h not in ("strong", "weak")]
    for k, name in enumerate(profile_heads):
        h = heads.index(name)
        have = targets.rows[h]
        offs.append(base[have, h])
        ys.append(targets.values[h])
        ws.append(weight[have])
        cols.append(np.stack([np.full(len(have), k), len(profile_heads) + targets.sources[have]], axis=1))
    bias = art.bias.copy()
    if not profile_heads:
        return bias
    theta = fit_offsets(
        np.concatenate(offs),
        np.concatenate(ys),
        np.concatenate(ws),
        np.concatenate(cols),
        len(profile_heads) + n_sources,
    )
    share = np.bincount(targets.sources, weights=weight, minlength=n_sources)
    level = float(theta[len(profile_heads) :] @ (share / share.sum()))
    for k, name in enumerate(profile_heads):
        bias[heads.index(name)] = theta[k] + level
    return bias


def head_probabilities(router: Router, feats: Featurized) -> FloatArray:
    """(n, H) predicted success per head, from precomputed features (same maths as ``Router.logits``)."""
    x = np.where(np.isnan(feats.dense), router._mean, feats.dense)
    logits = x @ router._w + router._b
    for i, s in enumerate(feats.slots):
        if len(s):
            logits[i] += router._w_hash[s].sum(axis=0, dtype=np.float64) / np.sqrt(len(s))
    return np.asarray(0.5 * (1.0 + np.tanh(0.5 * logits)), dtype=np.float64)


def gains(router: Router, feats: Featurized) -> FloatArray:
    return router.gain(head_probabilities(router, feats))
