"""Router variants measured on the held-out splits of ``unigate router eval`` (docs/auto-routing.md,
"Variants"). Research code: prints mean / min APGR per split kind and writes every cell as JSON.

    OMP_NUM_THREADS=1 nice -n 19 .venv/bin/python scripts/router_variants.py \\
        --variants fe,nofe,gainhead,weakfail,kind,prior1 --features-cache /tmp/f.npz --json /tmp/variants.json
    ... --arena-cal linear|strict        # other judge-grade calibrations (training and evaluation)
    ... --embeddings /tmp/emb.npz --representations mix,emb,mix+emb   # rows with an embedding only

Variants (each trained without the held-out set, like ``router eval``):

- ``fe``: the shipped recipe (strong / weak heads with source fixed effects; score P(strong) − P(weak));
- ``nofe``: the same without source fixed effects (the heads may learn each source's level);
- ``gainhead``: one head fitted on the gain itself ((strong − weak + 1) / 2 as a soft label);
- ``weakfail``: rank by the weak head's predicted failure alone;
- ``kind``: a task-type classifier over the representation; score = the predicted task types'
  mean gain in the training rows (a pure "kind of prompt" prior);
- ``prior<λ>``: the shipped score plus λ × the v1 router's hand-set open-prompt prior (math,
  code and reasoning words up, creative writing down; applied when a prompt has no answer options).
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from typing import Any

import numpy as np

from unigate.router_training import legacy
from unigate.router_training import metrics as M
from unigate.router_training import sources as S
from unigate.router_training.data import find_default_data_dir
from unigate.router_training.evaluate import make_splits
from unigate.router_training.train import (
    Recipe,
    _design,
    build_targets,
    cap_per_source,
    featurize_cached,
    fit_head,
    heldout_gains,
    row_weights,
    standardize_stats,
)


def _calibration(kind: str) -> None:
    """Replace the judge-grade mapping (``sources.calibrate_label``) before the data is loaded."""
    if kind == "default":
        return
    original = S.calibrate_label

    def calibrate(score: float, label_type: str) -> float:
        if label_type.startswith("gpt4_grade"):
            return float(score) if kind == "linear" else float(score >= 0.8)  # grade/10, or grade >= 8
        return original(score, label_type)

    S.calibrate_label = calibrate


def _kind_prior(rows: list[Any], feats: Any, test: Any, recipe: Recipe) -> np.ndarray:
    from sklearn.linear_model import LogisticRegression

    keep = cap_per_source([r.source for r in rows], recipe.max_rows_per_source)
    rows, feats = [rows[i] for i in keep], feats.take(keep)
    mean, scale = standardize_stats(feats.dense)
    stats = (feats.emb.mean(axis=0), feats.emb.std(axis=0) + 1e-6) if feats.emb is not None else None
    x, x_test = _design(feats, mean, scale, recipe, stats), _design(test, mean, scale, recipe, stats)
    kinds = sorted({r.task_type for r in rows})
    if len(kinds) < 2:
        return np.zeros(x_test.shape[0])
    y = np.asarray([kinds.index(r.task_type) for r in rows])
    gain = np.asarray([r.example.strong_q - r.example.weak_q for r in rows])
    level = np.asarray([gain[y == k].mean() for k in range(len(kinds))])
    weight = row_weights(build_targets(rows, replace(recipe, profiles=False)).sources, True)
    clf = LogisticRegression(C=recipe.c, max_iter=300).fit(x, y, sample_weight=weight * len(weight) / weight.sum())
    return np.asarray(clf.predict_proba(x_test) @ level)


def _single_head(rows: list[Any], feats: Any, test: Any, recipe: Recipe, target: str) -> np.ndarray:
    keep = cap_per_source([r.source for r in rows], recipe.max_rows_per_source)
    rows, feats = [rows[i] for i in keep], feats.take(keep)
    mean, scale = standardize_stats(feats.dense)
    stats = (feats.emb.mean(axis=0), feats.emb.std(axis=0) + 1e-6) if feats.emb is not None else None
    x, x_test = _design(feats, mean, scale, recipe, stats), _design(test, mean, scale, recipe, stats)
    t = build_targets(rows, replace(recipe, profiles=False))
    strong, weak = t.values[0], t.values[1]
    y = (strong - weak + 1.0) / 2.0 if target == "gain" else weak
    head = fit_head(x, y, row_weights(t.sources, True), t.sources, int(t.sources.max()) + 1, recipe.c)
    z = x_test @ head.w + head.b
    return np.asarray(z if target == "gain" else -z)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data")
    ap.add_argument("--representations", default="mix")
    ap.add_argument("--variants", default="fe,nofe")
    ap.add_argument("--splits", default="source,task_type,mixed")
    ap.add_argument("--arena-cal", default="default", choices=["default", "linear", "strict"])
    ap.add_argument("--c", type=float, default=1.0)
    ap.add_argument("--features-cache")
    ap.add_argument("--embeddings")
    ap.add_argument("--json")
    args = ap.parse_args()

    _calibration(args.arena_cal)
    rows = S.load_sources(args.data or find_default_data_dir() or "datasets/routing-data")
    feats = featurize_cached([r.prompt for r in rows], Recipe.buckets, args.features_cache)
    if args.embeddings:
        from unigate.router_training.embeddings import lookup

        emb, found = lookup([r.prompt for r in rows], args.embeddings)
        keep = np.flatnonzero(found)
        rows, feats = [rows[i] for i in keep], feats.take(keep)
        feats.emb = emb[keep]
        print(f"{len(rows)} rows with an embedding")
    v1 = legacy.load_router()
    x1 = np.where(np.isnan(feats.dense), v1._mean, feats.dense)
    prior = np.where(x1[:, v1._has_opts] == 0.0, x1 @ v1._prior, 0.0)
    weak = np.asarray([r.example.weak_q for r in rows])
    strong = np.asarray([r.example.strong_q for r in rows])
    length = np.asarray([len(r.prompt) for r in rows], dtype=np.float64)

    def apgr(scores: np.ndarray, test: np.ndarray) -> float | None:
        w, s = weak[test], strong[test]
        return None if s.mean() - w.mean() <= 0 else round(M.apgr(scores, w, s), 4)

    out: list[dict[str, Any]] = []
    for kind in args.splits.split(","):
        for split in make_splits(rows, kind):
            train_rows = [rows[i] for i in split.train]
            tr, te = feats.take(split.train), feats.take(split.test)
            cell: dict[str, Any] = {"kind": kind, "held_out": split.name, "n": len(split.test)}
            cell["length"] = apgr(length[split.test], split.test)
            cell["v1 prior alone"] = apgr(prior[split.test], split.test)
            for rep in args.representations.split(","):
                recipe = Recipe(representation=rep, c=args.c, profiles=False)
                for variant in args.variants.split(","):
                    if variant in ("fe", "nofe") or variant.startswith("prior"):
                        r = replace(recipe, fixed_effects=variant != "nofe")
                        scores = heldout_gains(train_rows, tr, te, r)
                        if variant.startswith("prior"):
                            scores = scores + float(variant[5:] or 1) * prior[split.test]
                    elif variant in ("gainhead", "weakfail"):
                        scores = _single_head(train_rows, tr, te, recipe, "gain" if variant == "gainhead" else "weak")
                    elif variant == "kind":
                        scores = _kind_prior(train_rows, tr, te, recipe)
                    else:
                        raise SystemExit(f"unknown variant {variant!r}")
                    cell[f"{rep}/{variant}"] = apgr(scores, split.test)
            print(json.dumps(cell), flush=True)
            out.append(cell)
    columns = [k for k in out[0] if k not in ("kind", "held_out", "n")]
    for kind in dict.fromkeys(c["kind"] for c in out):
        cells = [c for c in out if c["kind"] == kind]
        print(f"== {kind}: mean / min APGR")
        for col in columns:
            v = [c[col] for c in cells if c[col] is not None]
            print(f"  {col:<28} {np.mean(v):.3f} / {np.min(v):.3f}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(out, fh, indent=1)


if __name__ == "__main__":
    main()
