from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from unigate.router_training import metrics as M
from unigate.router_training.calibrate import for_pgr, for_strong_share, threshold_for_share
from unigate.router_training.data import load_mmlu
from unigate.routing.learned.model import load_router


def test_threshold_for_share_on_known_scores() -> None:
    s = np.arange(10) / 10.0  # 0.0 .. 0.9
    t = threshold_for_share(s, 0.3)
    assert np.mean(s >= t) == pytest.approx(0.3)
    assert threshold_for_share(s, 1.0) == 0.0
    assert np.mean(s >= threshold_for_share(s, 0.0)) == 0.0
    # ties never push the sample share above the target
    tied = np.array([0.5] * 6 + [0.1] * 4)
    assert np.mean(tied >= threshold_for_share(tied, 0.3)) <= 0.3


def test_pgr_target_is_met_on_the_sample() -> None:
    rng = np.random.default_rng(0)
    w = (rng.random(1000) < 0.6).astype(float)
    s = np.maximum(w, (rng.random(1000) < 0.5).astype(float))
    scores = (s - w) + rng.normal(0, 0.7, 1000)
    cal = for_pgr(scores, w, s, 0.9)
    assert cal.pgr is not None and cal.pgr >= 0.9
    routed = np.where(scores >= cal.threshold, s, w).mean()
    assert (routed - w.mean()) / (s.mean() - w.mean()) == pytest.approx(cal.pgr)
    # a smaller target needs no more strong calls
    assert for_pgr(scores, w, s, 0.5).strong_share <= cal.strong_share
    assert cal.strong_share == pytest.approx(np.mean(scores >= cal.threshold))
    assert M.pgr_at(scores, w, s, cal.strong_share) >= 0.9 - 1e-9


@pytest.mark.parametrize("target", [0.1, 0.3, 0.5])
def test_share_calibration_holds_on_held_out_prompts(mmlu_dir: Path, target: float) -> None:
    ex = load_mmlu(mmlu_dir)
    rng = np.random.default_rng(7)
    idx = rng.permutation(len(ex))[:4000]
    scores = load_router("mmlu").score_many([ex[i].prompt for i in idx])
    cal_scores, held_out = scores[:2000], scores[2000:]
    cal = for_strong_share(cal_scores, target)
    assert cal.strong_share <= target + 1e-9
    assert float(np.mean(held_out >= cal.threshold)) == pytest.approx(target, abs=0.03)
