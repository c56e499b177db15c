"""Prompt embeddings from the embedded local model (SmolLM2-135M through llama.cpp), for evaluation.

Measured as a router representation (``router eval --embeddings PATH``), not shipped: see
docs/auto-routing.md for the numbers and why. ``router embed`` fills a cache file:

- every prompt is cut to ``budget`` tokens (the first and the last ``budget/2``: the question of a
  few-shot or multiple-choice prompt is at its end, the instruction of a chat prompt at its start);
- the vector is llama.cpp's mean pooling over the model's last hidden layer, L2-normalized here;
- prompts are embedded in a random round robin over (source, task type), so a partial run (the
  model takes ~1 s per 256-token prompt on one core) still covers every stratum evenly;
- the cache (``.npz``: ``keys`` = SHA-1 of each prompt, ``vecs``, ``ntok``, ``budget``, ``model``) is
  rewritten every ``save_every`` prompts, so the job can be stopped and resumed.
"""

from __future__ import annotations

import hashlib
import os
import random
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]


def prompt_key(prompt: str) -> str:
    return hashlib.sha1(prompt.encode("utf-8")).hexdigest()


def stratified_order(prompts: Sequence[str], strata: Sequence[str], seed: int = 0) -> list[str]:
    """Distinct prompts in a random round robin over ``strata``: any prefix covers each stratum evenly."""
    groups: dict[str, list[str]] = {}
    for p, s in zip(prompts, strata, strict=True):
        groups.setdefault(s, []).append(p)
    rng = random.Random(seed)
    queues = []
    for name in sorted(groups):
        ps = sorted(set(groups[name]))
        rng.shuffle(ps)
        queues.append(ps)
    order: list[str] = []
    while any(queues):
        for q in queues:
            if q:
                order.append(q.pop())
    return order


def read_cache(path: str | Path) -> dict[str, tuple[NDArray[np.float32], int]]:
    p = Path(path)
    if not p.exists():
        return {}
    with np.load(p, allow_pickle=False) as z:
        return {str(k): (v, int(t)) for k, v, t in zip(z["keys"], z["vecs"], z["ntok"], strict=True)}


def write_cache(path: str | Path, done: dict[str, tuple[NDArray[np.float32], int]], budget: int, model: str) -> None:
    p = Path(path)
    keys = list(done)
    tmp = p.with_name(p.name + ".tmp.npz")
    np.savez(
        tmp,
        keys=np.asarray(keys),
        vecs=np.stack([done[k][0] for k in keys]).astype(np.float32),
        ntok=np.asarray([done[k][1] for k in keys], dtype=np.int64),
        budget=budget,
        model=np.asarray(model),
    )
    os.replace(tmp, p)


def load_llama(model_path: str, budget: int) -> Any:
    """A one-thread embedding instance (llama.cpp wants the context a multiple of 256 tokens here)."""
    import llama_cpp

    ctx = max(256, -(-budget // 256) * 256)
    return llama_cpp.Llama(
        model_path=model_path,
        embedding=True,
        pooling_type=llama_cpp.LLAMA_POOLING_TYPE_MEAN,
        n_ctx=ctx,
        n_batch=ctx,
        n_ubatch=ctx,
        n_threads=1,
        n_threads_batch=1,
        verbose=False,
    )


def truncate(llama: Any, text: str, budget: int) -> tuple[str, int]:
    """``text`` cut to ``budget`` tokens (BOS included): head and tail halves when longer."""
    toks = llama.tokenize(text.encode("utf-8"), add_bos=False, special=False)
    room = budget - 2
    if len(toks) <= room:
        return text, len(toks)
    head = budget // 2 - 1
    kept = toks[:head] + toks[-(room - head) :]
    return llama.detokenize(kept).decode("utf-8", errors="ignore"), room


def embed_one(llama: Any, text: str, budget: int) -> tuple[NDArray[np.float32], int]:
    cut, n = truncate(llama, text, budget)
    vec = np.asarray(llama.embed(cut, normalize=False, truncate=True), dtype=np.float32)
    return vec, n


def fill_cache(
    order: Sequence[str],
    cache: str | Path,
    budget: int = 256,
    model_path: str | None = None,
    limit: int | None = None,
    save_every: int = 250,
    progress: Callable[[str], None] | None = None,
) -> int:
    """Embed the prompts of ``order`` missing from ``cache`` (at most ``limit`` new ones); returns the count."""
    if model_path is None:
        from unigate.providers.local.engine import bundled_smollm2_path

        model_path = str(bundled_smollm2_path())
    done = read_cache(cache)
    llama = load_llama(model_path, budget)
    new = 0
    for prompt in order:
        key = prompt_key(prompt)
        if key in done:
            continue
        if limit is not None and new >= limit:
            break
        done[key] = embed_one(llama, prompt, budget)
        new += 1
        if new % save_every == 0:
            write_cache(cache, done, budget, Path(model_path).name)
            if progress:
                progress(f"{len(done)} prompts embedded")
    if new:
        write_cache(cache, done, budget, Path(model_path).name)
    return new


def lookup(prompts: Sequence[str], cache: str | Path) -> tuple[FloatArray, NDArray[np.bool_]]:
    """(n, d) L2-normalized vectors for ``prompts`` (zeros where missing) and which ones were found."""
    done = read_cache(cache)
    if not done:
        raise ValueError(f"{cache}: no embeddings (run `unigate router embed --out {cache}` first)")
    dim = len(next(iter(done.values()))[0])
    out = np.zeros((len(prompts), dim))
    found = np.zeros(len(prompts), dtype=bool)
    for i, p in enumerate(prompts):
        hit = done.get(prompt_key(p))
        if hit is not None:
            out[i] = hit[0]
            found[i] = True
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return out / np.maximum(norms, 1e-12), found
