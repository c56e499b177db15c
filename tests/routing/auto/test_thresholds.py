"""Thresholds: set directly or calibrated from a target, hitting the target on held-out prompts."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from unigate.config import AutoPolicyConfig
from unigate.router_training.calibrate import for_strong_share
from unigate.router_training.data import find_default_data_dir
from unigate.router_training.sources import load_sources
from unigate.router_training.train import cap_per_source
from unigate.routing.auto.thresholds import resolve_threshold
from unigate.routing.learned.model import load_router


@pytest.fixture(scope="module")
def scores() -> np.ndarray:
    """Scores of prompts drawn like the router's reference prompts (at most 1,000 per source),
    but another sample of them (seed 7, every other one)."""
    data = find_default_data_dir()
    if data is None:
        pytest.skip("routing data (datasets/routing-data) not found")
    rows = load_sources(data)
    pick = np.random.default_rng(7).permutation(cap_per_source([r.source for r in rows], 1000, seed=7))[::2]
    return load_router("default").score_many([rows[i].prompt for i in pick])


@pytest.mark.parametrize("share", [0.1, 0.3, 0.5])
def test_calibrated_on_a_sample_hits_the_share_on_held_out_prompts(scores, share):
    sample, held_out = scores[:1200], scores[1200:]
    threshold = for_strong_share(sample, share).threshold
    policy = AutoPolicyConfig(name="p", threshold=threshold)  # what `router calibrate` tells you to set
    resolved, source = resolve_threshold(policy, None)
    assert (resolved, source) == (threshold, "config")
    assert np.mean(held_out >= resolved) == pytest.approx(share, abs=0.04)


@pytest.mark.parametrize("share", [0.1, 0.3, 0.5])
def test_target_strong_share_without_a_sample_uses_the_router_quantiles(scores, share):
    router = load_router("default")
    threshold, source = resolve_threshold(AutoPolicyConfig(name="p", target_strong_share=share), router)
    assert threshold == pytest.approx(1 - share) and "target_strong_share" in source
    # the shipped scores are quantiles of the router's reference prompts (a sample of every source)
    assert np.mean(scores >= threshold) == pytest.approx(share, abs=0.04)


def test_target_pgr_uses_a_shipped_curve_when_the_artifact_has_one():
    from types import SimpleNamespace

    curve = [{"share": 0.2, "pgr": 0.5}, {"share": 0.45, "pgr": 0.9}, {"share": 0.7, "pgr": 1}]
    router = SimpleNamespace(artifact=SimpleNamespace(meta={"calibration": curve}))
    threshold, source = resolve_threshold(AutoPolicyConfig(name="p", target_pgr=0.9), router)
    assert threshold == pytest.approx(0.55) and "target_pgr" in source
    threshold, source = resolve_threshold(AutoPolicyConfig(name="p", target_pgr=0.9), None)
    assert threshold == pytest.approx(0.7) and source.startswith("default")


def test_config_allows_only_one_way_to_set_the_threshold():
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="at most one of"):
        AutoPolicyConfig(name="p", threshold=0.5, target_strong_share=0.3)


def test_recorded_prompts_feed_router_calibrate(tmp_path):
    """auto-prompts.jsonl (record_prompts: true) is a valid --prompts file for `router calibrate`."""
    path = tmp_path / "auto-prompts.jsonl"
    prompts = ["Say hi", "What is 2+2?", "Statement 1 | A group of order 4 is cyclic. Statement 2 | Z is a field."]
    path.write_text(
        "".join(
            json.dumps({"request_id": f"r{i}", "prompt": p, "strong": False, "score": 0.1}) + "\n"
            for i, p in enumerate(prompts)
        )
    )
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "unigate.router_training",
            "router",
            "calibrate",
            "--target-strong-share",
            "0.34",
            "--prompts",
            str(path),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(out.stdout)
    assert result["n"] == 3 and result["strong_share"] <= 0.34
