from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np
import pytest

from unigate.routing.learned.model import Artifact, ArtifactError, Router, load_router, score

PROMPTS = [
    "What is the capital of France?",
    "Statement 1 | Every group of order p^2 is abelian. Statement 2 | Every ring is a field.\n"
    "A. True, True\nB. False, False\nC. True, False\nD. False, True\nAnswer:",
    "For which of these two scenarios does the main character do something clearly morally wrong? "
    "Scenario 1 | I took the money. Scenario 2 | I gave it back.\nA. Wrong, Wrong\nB. Wrong, Not wrong\n"
    "C. Not wrong, Wrong\nD. Not wrong, Not wrong\nAnswer:",
    "",
]


def test_builtin_router_scores_in_unit_interval_and_is_cached() -> None:
    r = load_router("mmlu")
    assert load_router("mmlu") is r
    many = r.score_many(PROMPTS)
    assert many.shape == (len(PROMPTS),)
    for p, m in zip(PROMPTS, many, strict=True):
        s = r.score(p)
        assert 0.0 <= s <= 1.0
        assert s == pytest.approx(float(m), abs=1e-12)
    assert score(PROMPTS[0]) == r.score(PROMPTS[0])
    assert r.score_many([]).shape == (0,)


def test_score_map_is_strictly_increasing_through_the_tails() -> None:
    r = load_router("mmlu")
    raw = np.linspace(-1.0, 1.0, 2001)
    s = r.to_score(raw)
    assert np.all(np.diff(s) > 0)
    assert s[0] > 0.0 and s[-1] < 1.0
    # the reference median maps to ~0.5
    q = np.asarray(r.artifact.ref_quantiles)
    assert float(r.to_score(np.asarray([q[len(q) // 2]]))[0]) == pytest.approx(0.5, abs=0.01)


def test_concurrent_first_load_yields_one_router(tmp_path: Path) -> None:
    art = load_router("mmlu").artifact
    path = tmp_path / "copy.json"
    art.save(path)
    got: list[Router] = []
    threads = [threading.Thread(target=lambda: got.append(load_router(path))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({id(r) for r in got}) == 1
    assert got[0].score(PROMPTS[1]) == pytest.approx(load_router("mmlu").score(PROMPTS[1]))


def test_artifact_round_trip_and_validation(tmp_path: Path) -> None:
    art = load_router("mmlu").artifact
    p = tmp_path / "a.json"
    art.save(p)
    assert Artifact.load(p) == art
    obj = json.loads(p.read_text())
    obj["feature_names"] = [*obj["feature_names"][:-1], "other"]
    p.write_text(json.dumps(obj))
    with pytest.raises(ArtifactError, match="different features"):
        Artifact.load(p)
    p.write_text(json.dumps({"format": "nope"}))
    with pytest.raises(ArtifactError):
        Artifact.load(p)
    with pytest.raises(ArtifactError, match="unknown router"):
        load_router("no-such-router")


def test_shipped_artifact_is_small_and_documented() -> None:
    art = load_router("mmlu").artifact
    assert art.meta["name"] == "mmlu" and art.meta["n_train"] > 10_000
    assert sum(abs(v) for v in art.w_strong) > 0 and sum(abs(v) for v in art.w_weak) > 0
    assert art.meta["excluded_groups"] == ["high_school_mathematics"]
    assert art.meta["default_threshold"] == 0.7
    cal = art.meta["calibration"]
    shares = [p["share"] for p in cal["points"]]
    assert shares[0] == 0.0 and shares[-1] == 1.0 and shares == sorted(shares)
    assert cal["points"][-1]["pgr"] == pytest.approx(1.0) and cal["apgr"] > 0.6


def test_open_ended_prior_orders_prompt_types() -> None:
    """MMLU has no open-ended prompts; the documented prior must rank math/code above chit-chat/writing."""
    r = load_router("mmlu")
    math_p = (
        "Janet's ducks lay 16 eggs per day. She eats three for breakfast every morning and bakes muffins "
        "with four. She sells the remainder for $2 per egg. How much in dollars does she make every day?"
    )
    code_p = "Implement a function to find the median of two sorted arrays in O(log n) time complexity."
    writing_p = "Compose an engaging travel blog post about a recent trip to Hawaii."
    chat_p = "Hi! How are you today?"
    assert min(r.score(math_p), r.score(code_p)) > max(r.score(writing_p), r.score(chat_p))
    # the prior never touches multiple-choice prompts
    art = r.artifact
    no_prior = Router(Artifact(**{**art.__dict__, "open_prior": {}}))
    mc = PROMPTS[1]
    assert no_prior.score(mc) == pytest.approx(r.score(mc))
    assert no_prior.score(math_p) < r.score(math_p)


def test_unknown_prior_feature_is_rejected(tmp_path: Path) -> None:
    obj = load_router("mmlu").artifact.to_json()
    obj["open_prior"] = {"not_a_feature": 1.0}
    p = tmp_path / "bad.json"
    p.write_text(json.dumps(obj))
    with pytest.raises(ArtifactError, match="not_a_feature"):
        Artifact.load(p)
