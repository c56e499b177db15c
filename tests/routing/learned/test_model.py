from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from unigate.routing.learned.model import DEFAULT_PATH, Artifact, ArtifactError, Router, load_router, score

PROMPTS = [
    "What is the capital of France?",
    "Let $f(x) = x^3 - 3x + 1$. Find the number of real roots of $f(f(x)) = 0$.",
    "def f(xs):\n    return sorted(xs)[::-2]\nassert f([3, 1, 2]) == ??",
    "",
]


def test_builtin_router_scores_and_predicts_per_profile() -> None:
    r = load_router("default")
    assert load_router("default") is r and load_router("mmlu") is r  # the old name keeps working
    many = r.score_many(PROMPTS)
    assert many.shape == (len(PROMPTS),)
    for p, m in zip(PROMPTS, many, strict=True):
        s = r.score(p)
        assert 0.0 <= s <= 1.0 and s == pytest.approx(float(m), abs=1e-12)
    assert score(PROMPTS[0]) == r.score(PROMPTS[0])
    assert {"gpt-4o", "llama-3.1-8b"} <= set(r.profiles)
    s, success = r.explain(PROMPTS[1], ["gpt-4o", "llama-3.1-8b", "no-such-profile"])
    assert s == r.score(PROMPTS[1])
    assert set(success) == {"gpt-4o", "llama-3.1-8b"}
    assert all(0.0 < v < 1.0 for v in success.values())
    # a competition-math prompt: the strong model is predicted to do better than the small one
    assert success["gpt-4o"] > success["llama-3.1-8b"]


def test_score_map_is_strictly_increasing_through_the_tails() -> None:
    r = load_router("default")
    s = r.to_score(np.linspace(-1.0, 1.0, 2001))
    assert np.all(np.diff(s) > 0) and s[0] > 0.0 and s[-1] < 1.0


def test_concurrent_first_load_yields_one_router(tmp_path: Path) -> None:
    path = tmp_path / "copy.npz"
    path.write_bytes(DEFAULT_PATH.read_bytes())
    got: list[Router] = []
    threads = [threading.Thread(target=lambda: got.append(load_router(path))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({id(r) for r in got}) == 1


def test_artifact_round_trip_and_validation(tmp_path: Path) -> None:
    art = Artifact.load(DEFAULT_PATH)
    path = tmp_path / "a.npz"
    art.save(path)
    again = Artifact.load(path)
    assert again.heads == art.heads and again.meta["name"] == art.meta["name"]
    assert Router(again).score(PROMPTS[1]) == pytest.approx(Router(art).score(PROMPTS[1]), abs=1e-6)

    with pytest.raises(ArtifactError, match="no such router artifact"):
        Artifact.load(tmp_path / "missing.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(ArtifactError, match="not a router artifact"):
        Artifact.load(tmp_path / "junk.npz")
    bad = Artifact(**{**art.__dict__, "bias": art.bias[:-1]})
    bad.save(tmp_path / "bad.npz")
    with pytest.raises(ArtifactError, match="shapes"):
        Artifact.load(tmp_path / "bad.npz")
    with pytest.raises(ArtifactError, match="unknown router"):
        load_router("no-such-router")


def test_shipped_artifact_is_small_and_attributes_every_source() -> None:
    assert DEFAULT_PATH.stat().st_size < 1_500_000
    meta = Artifact.load(DEFAULT_PATH).meta
    sources = meta["data"]
    assert {"mmlu", "mmlu_pro", "zeroeval_math_l5", "zeroeval_crux", "arena_bench_v1", "llmrouter_dcrouter"} <= set(
        sources
    )
    for info in sources.values():
        assert info["rows"] > 0 and info["licence"] and info["attribution"]
    assert "MMLU-Pro" in meta["attribution"] and "Arena-Hard" in meta["attribution"]
