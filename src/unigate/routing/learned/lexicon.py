"""General-English word frequencies (Zipf scale) used by the word-rarity features.

The table ships as ``artifacts/zipf_en.npz`` (top ~60k English words from the ``wordfreq``
package, Zipf value quantized to 0.05). ``wordfreq`` is needed only to rebuild it
(``build_zipf_table``, part of the ``train`` extra); loading needs numpy only.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

ARTIFACT_DIR = Path(__file__).resolve().parent / "artifacts"
ZIPF_PATH = ARTIFACT_DIR / "zipf_en.npz"
_SCALE = 20.0

_lock = threading.Lock()
_cache: dict[str, dict[str, float]] = {}


def load_zipf(path: Path = ZIPF_PATH) -> dict[str, float]:
    """word → Zipf frequency (7 ≈ "the", 3 = rare); cached, thread-safe."""
    key = str(path)
    table = _cache.get(key)
    if table is not None:
        return table
    with _lock:
        table = _cache.get(key)
        if table is None:
            with np.load(path) as z:
                words = bytes(z["words"]).decode("utf-8").split("\n")
                values = z["values"].astype(np.float64) / _SCALE
            table = dict(zip(words, values.tolist(), strict=True))
            _cache[key] = table
    return table


def build_zipf_table(out: Path = ZIPF_PATH, n: int = 60000) -> int:
    """Write the table from ``wordfreq`` (training-time only). Returns the number of words."""
    import wordfreq  # optional: the `train` extra

    words: list[str] = []
    values: list[int] = []
    for w in wordfreq.top_n_list("en", n):
        if not w or "\n" in w or not any(c.isalpha() for c in w):
            continue
        words.append(w)
        values.append(round(wordfreq.zipf_frequency(w, "en") * _SCALE))
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        out,
        words=np.frombuffer("\n".join(words).encode("utf-8"), dtype=np.uint8),
        values=np.asarray(values, dtype=np.uint8),
    )
    return len(words)
