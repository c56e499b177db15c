"""Hashed bag of word and symbol n-grams: the text-only representation of a prompt.

Lower-cased words, numbers and single punctuation/operator characters are the tokens; every
token and every pair of neighbouring tokens is hashed (CRC-32, stable across processes and
machines) into ``buckets`` slots. A prompt becomes the set of its slots, L2-normalized, so a
linear head over it is one gather and one sum. Longer prompts are read on their head and
tail (``MAX_CHARS``), which keeps the cost bounded whatever the prompt size.
"""

from __future__ import annotations

import itertools
import re
import zlib

import numpy as np
from numpy.typing import NDArray

MAX_CHARS = 3000
_TOKEN = re.compile(r"[a-z]+|\d+|[^\sa-z\d]")


def clip(text: str, max_chars: int = MAX_CHARS) -> str:
    if len(text) <= max_chars:
        return text
    head = max_chars * 3 // 4
    return text[:head] + "\n" + text[-(max_chars - head) :]


def slots(prompt: str, buckets: int) -> NDArray[np.int64]:
    """The distinct hash slots of the prompt's unigrams and bigrams (``buckets`` a power of two)."""
    tokens = _TOKEN.findall(clip(prompt).lower())
    mask = buckets - 1
    crc = zlib.crc32
    found = {crc(t.encode()) & mask for t in tokens}
    found.update(crc(f"{a} {b}".encode()) & mask for a, b in itertools.pairwise(tokens))
    return np.fromiter(found, dtype=np.int64, count=len(found))
