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
