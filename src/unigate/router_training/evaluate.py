"""Held-out evaluation of routers on the vendored data: out-of-distribution first.

Splits (``make_splits``):

- ``source``: leave one source out — train on the other sources, test on the held-out one;
- ``task_type``: leave one task type out (math, code, open-ended chat, …) across all sources;
- ``mixed``: every pair of sources held out at once and ranked across their union, each row on its
  own source's evaluation pair. Real traffic mixes kinds of prompts, and a router earns most by
  ranking *across* kinds (a competition-math prompt vs a trivia question), which a single-source
  held-out set cannot show;
- ``in-distribution``: 5 random folds over all rows (secondary: the router has seen the source).

MMLU questions appear in three sources (RouteLLM's MMLU, MMLU-Pro's ``ori_mmlu-*`` rows re-optioned
from MMLU, and LLMRouter's ``mmlu`` subset): when a held-out set contains any MMLU question,
every MMLU-derived row is removed from that split's training set, so no test question is seen
with other options.

Each held-out set is scored by every router (trained on the split's training rows only) and by
the baselines — random, prompt length (longer = harder), and the current router (``legacy.py``:
the v1 router trained on MMLU, as shipped before; on the MMLU split it is *not* held out). Metrics
are RouteLLM's (``metrics.py``): APGR over the full threshold sweep and over 10 score quantiles,
CPT(50%), CPT(80%), each on the row's evaluation pair (``sources.EVAL_PAIRS``).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from unigate.router_training import metrics as M
from unigate.router_training.sources import Row
from unigate.router_training.train import Featurized, Recipe, gains, heldout_gains, train_artifact
from unigate.routing.learned.model import Router

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]
SPLIT_KINDS = ("source", "task_type", "mixed", "in-distribution")
BASELINES = ("random", "length", "current")


@dataclass(frozen=True)
class Split:
    kind: str
    name: str
    train: IntArray
    test: IntArray


def make_splits(rows: Sequence[Row], kind: str, folds: int = 5, seed: int = 0) -> list[Split]:
    n = len(rows)
    idx = np.arange(n)
    derived = np.asarray([r.mmlu_derived for r in rows], dtype=bool)
    if kind in ("source", "task_type"):
        keys = np.asarray([r.source if kind == "source" else r.task_type for r in rows])
        out = []
        for name in sorted(set(keys.tolist())):
            test = idx[keys == name]
            train = idx[keys != name]
            if derived[test].any():
                train = train[~derived[train]]
            out.append(Split(kind, str(name), train, test))
        return out
    if kind == "mixed":
        keys = np.asarray([r.source for r in rows])
        out = []
        for a, b in itertools.combinations(sorted(set(keys.tolist())), 2):
            held = np.isin(keys, [a, b])
            test, train = idx[held], idx[~held]
            if derived[test].any():
                train = train[~derived[train]]
            out.append(Split(kind, f"{a} + {b}", train, test))
        return out
    if kind == "in-distribution":
        fold = np.random.default_rng(seed).permutation(n) % folds
        return [Split(kind, f"fold {f + 1}/{folds}", idx[fold != f], idx[fold == f]) for f in range(folds)]
    raise ValueError(f"unknown split kind {kind!r} (one of {', '.join(SPLIT_KINDS)})")


@dataclass
class Cell:
    """One router on one held-out set."""

    apgr: float
    apgr10: float
    cpt50: float
    cpt80: float

    def to_json(self) -> dict[str, float]:
        return {k: round(v, 4) for k, v in self.__dict__.items()}


def cell(scores: FloatArray, weak: FloatArray, strong: FloatArray) -> Cell | None:
    if len(scores) < 2 or strong.mean() - weak.mean() <= 0:
        return None
    r = M.report(scores, weak, strong)
    return Cell(r.apgr, r.apgr_binned, r.cpt50, r.cpt80)


@dataclass
class SplitResult:
    kind: str
    name: str
    n: int
    weak: float
    strong: float
    cells: dict[str, Cell | None] = field(default_factory=dict)
    note: str = ""


def evaluate(
    rows: Sequence[Row],
    feats: Featurized,
    recipes: dict[str, Recipe],
    kind: str,
    current: Callable[[FloatArray, Sequence[str]], FloatArray] | None = None,
    progress: Callable[[str], None] | None = None,
    folds: int = 5,
) -> list[SplitResult]:
    """Held-out results of each recipe and the baselines for every split of ``kind``.
    ``current(dense_features, prompts)`` scores with the current router (None: column left out).
    For the in-distribution kind the folds' out-of-fold scores are pooled and reported per source."""
    weak = np.asarray([r.example.weak_q for r in rows])
    strong = np.asarray([r.example.strong_q for r in rows])
    length = np.asarray([len(r.prompt) for r in rows], dtype=np.float64)
    splits = make_splits(rows, kind, folds)
    # held-out scores per split: the mixed kind's test sets overlap (a source is in several pairs),
    # so each set must be ranked with the scores of the model trained without exactly that set
    per_split: list[dict[str, FloatArray]] = [{} for _ in splits]
    learned: dict[str, FloatArray] = {name: np.zeros(len(rows)) for name in recipes}
    results: list[SplitResult] = []
    for k, split in enumerate(splits):
        train_rows = [rows[i] for i in split.train]
        for name, recipe in recipes.items():
            if progress:
                progress(f"{kind} {split.name}: training {name} on {len(split.train)} rows")
            if "emb" in recipe.representation.split("+"):
                scores = heldout_gains(train_rows, feats.take(split.train), feats.take(split.test), recipe)
            else:
                scores = gains(
                    Router(train_artifact(train_rows, feats.take(split.train), recipe)), feats.take(split.test)
                )
            learned[name][split.test] = scores
            per_split[k][name] = scores
    if kind == "in-distribution":
        groups = np.asarray([r.source for r in rows])
        pooled = [(str(g), np.flatnonzero(groups == g)) for g in sorted(set(groups.tolist()))]
        tests = [(g, idx, {r: learned[r][idx] for r in recipes}) for g, idx in pooled]
    else:
        tests = [(s.name, s.test, per_split[k]) for k, s in enumerate(splits)]
    current_scores = current(feats.dense, [r.prompt for r in rows]) if current is not None else None
    for name, test, scored in tests:
        w, s = weak[test], strong[test]
        res = SplitResult(kind, name, len(test), float(w.mean()), float(s.mean()))
        for rname in recipes:
            res.cells[rname] = cell(scored[rname], w, s)
        res.cells["random"] = cell(M.random_scores(len(test)), w, s)
        res.cells["length"] = cell(length[test], w, s)
        if current_scores is not None:
            res.cells["current"] = cell(current_scores[test], w, s)
            if kind != "in-distribution" and any(rows[int(i)].source == "mmlu" for i in test):
                res.note = "current router was trained on MMLU: not held out here"
        results.append(res)
    return results


def _fmt(c: Cell | None) -> str:
    if c is None:
        return f"{'n/a':>27}"
    return f"{c.apgr:>6.3f} {c.apgr10:>6.3f} {c.cpt50 * 100:>6.1f}% {c.cpt80 * 100:>6.1f}%"


def _summary(results: Sequence[SplitResult], routers: Sequence[str]) -> list[str]:
    """Mean and minimum APGR per router over the kind's held-out sets (sets without a gap skipped)."""
    if len(results) < 2:
        return []
    out = []
    for label, reduce in (("mean APGR", np.mean), ("min APGR", np.min)):
        cells = []
        for r in routers:
            values = [c.apgr for res in results if (c := res.cells.get(r)) is not None]
            cells.append(f"{float(reduce(values)):>6.3f}{'':>21}" if values else f"{'n/a':>27}")
        out.append(f"{label:<26}{'':>6} {'':>6} {'':>6}  " + "  ".join(cells))
    return out


def format_results(results: Sequence[SplitResult], routers: Sequence[str]) -> str:
    """A plain-text table per split kind: per held-out set, APGR / APGR@10 / CPT(50%) / CPT(80%) per router."""
    lines: list[str] = []
    kinds = list(dict.fromkeys(r.kind for r in results))
    for kind in kinds:
        lines.append(f"== {TITLES[kind]}")
        lines.append("   columns per router: APGR  APGR@10  CPT(50%)  CPT(80%)")
        lines.append(
            f"{'held-out set':<26}{'n':>6} {'weak':>6} {'strong':>6}  " + "  ".join(f"{r:^27}" for r in routers)
        )
        for res in (r for r in results if r.kind == kind):
            line = f"{res.name:<26}{res.n:>6} {res.weak:>6.3f} {res.strong:>6.3f}  "
            line += "  ".join(_fmt(res.cells.get(r)) for r in routers)
            if res.note:
                line += f"   ({res.note})"
            lines.append(line)
        lines += _summary([r for r in results if r.kind == kind], routers)
        lines.append("")
    return "\n".join(lines)


TITLES = {
    "source": "leave-one-source-out (out of distribution)",
    "task_type": "leave-one-task-type-out (out of distribution)",
    "mixed": "two sources held out at once, ranked across their union (out of distribution)",
    "in-distribution": "in-distribution (5 random folds, pooled per source)",
}


def apgr_panels(
    results: Sequence[SplitResult], routers: Sequence[str]
) -> list[tuple[str, list[str], dict[str, list[float | None]]]]:
    """Per split kind: (title, held-out set names, APGR per router and set) for ``plot.plot_apgr``."""
    panels = []
    for kind in dict.fromkeys(r.kind for r in results):
        rs = [r for r in results if r.kind == kind]
        values = {
            name: [c.apgr if (c := r.cells.get(name)) is not None else None for r in rs]
            for name in routers
            if name != "random"
        }
        panels.append((TITLES[kind], [f"{r.name} ({r.n})" for r in rs], values))
    return panels


def results_json(results: Sequence[SplitResult]) -> list[dict[str, Any]]:
    return [
        {
            "kind": r.kind,
            "held_out": r.name,
            "n": r.n,
            "weak": round(r.weak, 4),
            "strong": round(r.strong, 4),
            "routers": {k: (c.to_json() if c else None) for k, c in r.cells.items()},
            **({"note": r.note} if r.note else {}),
        }
        for r in results
    ]
