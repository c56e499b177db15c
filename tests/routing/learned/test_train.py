from __future__ import annotations

import numpy as np
import pytest

from unigate.routing.learned import metrics as M
from unigate.routing.learned.data import Example
from unigate.routing.learned.model import Router
from unigate.routing.learned.train import TrainConfig, fit_logistic, train, train_from_features


def test_fit_logistic_recovers_direction() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2000, 3))
    p = 1 / (1 + np.exp(-(2.0 * x[:, 0] - 1.0 * x[:, 2] + 0.5)))
    y = (rng.random(2000) < p).astype(float)
    w, b = fit_logistic(x, y, l2=1e-4)
    assert w[0] == pytest.approx(2.0, abs=0.3)
    assert w[2] == pytest.approx(-1.0, abs=0.3)
    assert abs(w[1]) < 0.2 and b == pytest.approx(0.5, abs=0.2)


def _synthetic(n: int, seed: int) -> list[Example]:
    """Long prompts with many numbers need the strong model; short chit-chat does not."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        hard = i % 2 == 0
        if hard:
            nums = " ".join(str(int(v)) for v in rng.integers(1, 999, size=6))
            prompt = f"Compute the total cost if items cost {nums} dollars each and tax is 7.5 percent, step by step."
            w, s = float(rng.random() < 0.3), float(rng.random() < 0.9)
        else:
            prompt = f"Say hello to my friend number {i}."
            w, s = float(rng.random() < 0.9), float(rng.random() < 0.9)
        out.append(Example(prompt, w, s, group=f"g{i % 4}"))
    return out


def test_train_learns_a_useful_ranking() -> None:
    art = train(_synthetic(300, 0), TrainConfig())
    test = _synthetic(200, 1)
    r = Router(art)
    scores = r.score_many([e.prompt for e in test])
    w = np.array([e.weak_q for e in test])
    s = np.array([e.strong_q for e in test])
    assert M.apgr(scores, w, s) > 0.7
    assert art.meta["n_train"] == 300 and art.meta["groups"] == 4
    assert len(art.ref_quantiles) == TrainConfig().n_quantiles


def test_too_little_data_is_an_error() -> None:
    with pytest.raises(ValueError):
        train_from_features(np.zeros((3, 2)), np.zeros(3), np.ones(3))
