from __future__ import annotations

import numpy as np
import pytest

from unigate.router_training.data import Example
from unigate.router_training.sources import Row
from unigate.router_training.train import Recipe, cap_per_source, featurize, fit_offsets, gains, train_artifact
from unigate.routing.learned.model import Router


def synthetic(n_per_source: int = 60) -> list[Row]:
    """Two sources with different base rates; inside each, 'integral' prompts need the strong model."""
    rows = []
    rng = np.random.default_rng(0)
    for source, base in (("easy", 0.9), ("hard", 0.3)):
        for i in range(n_per_source):
            hard = i % 2 == 1
            prompt = f"Evaluate the integral of x^{i} dx from 0 to {i}" if hard else f"Say hello to friend number {i}"
            weak = 0.0 if hard else float(rng.random() < base)
            strong = 1.0 if hard else weak
            scores = {"gpt-4o": strong, "llama-3.1-8b": weak}
            rows.append(Row(Example(prompt, weak, strong, source), source, source, "", scores, False))
    return rows


@pytest.mark.parametrize("representation", ["hand", "hash", "mix"])
def test_training_learns_which_prompts_need_the_strong_model(representation: str) -> None:
    rows = synthetic()
    feats = featurize([r.prompt for r in rows], 1 << 10)
    recipe = Recipe(representation=representation, buckets=1 << 10, min_profile_rows=50)
    art = train_artifact(rows, feats, recipe, meta={"name": "t"})
    assert art.heads == ("strong", "weak", "gpt-4o", "llama-3.1-8b")
    router = Router(art)
    raw = gains(router, feats)
    hard = np.asarray(["integral" in r.prompt for r in rows])
    assert raw[hard].mean() > raw[~hard].mean() + 0.2
    s_hard = router.score("Evaluate the integral of x^7 dx from 0 to 3")
    s_easy = router.score("Say hello to friend number 99")
    assert s_hard > s_easy
    _, success = router.explain("Evaluate the integral of x^7 dx from 0 to 3", ["gpt-4o", "llama-3.1-8b"])
    assert success["gpt-4o"] > success["llama-3.1-8b"]
    assert art.meta["name"] == "t" and art.meta["recipe"]["representation"] == representation


def test_too_little_data_is_an_error() -> None:
    rows = synthetic(5)
    with pytest.raises(ValueError, match="at least 20"):
        train_artifact(rows, featurize([r.prompt for r in rows], 1 << 10), Recipe(buckets=1 << 10))


def test_cap_per_source_keeps_a_fixed_sample_of_large_sources() -> None:
    sources = ["a"] * 10 + ["b"] * 3
    keep = cap_per_source(sources, 4)
    assert list(keep) == sorted(keep) and len(keep) == 7
    assert sum(sources[i] == "a" for i in keep) == 4 and list(cap_per_source(sources, 4)) == list(keep)


def test_fit_offsets_recovers_levels() -> None:
    rng = np.random.default_rng(1)
    n = 4000
    cols = np.stack([rng.integers(0, 2, n), 2 + rng.integers(0, 2, n)], axis=1)
    truth = np.array([1.0, -1.0, 0.5, -0.5])
    z = truth[cols].sum(axis=1)
    y = (rng.random(n) < 1 / (1 + np.exp(-z))).astype(float)
    theta = fit_offsets(np.zeros(n), y, np.ones(n), cols, 4)
    # only differences inside each block are identified
    assert theta[0] - theta[1] == pytest.approx(2.0, abs=0.3)
    assert theta[2] - theta[3] == pytest.approx(1.0, abs=0.3)
