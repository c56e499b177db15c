from __future__ import annotations

import numpy as np

from unigate.routing.learned.hashing import MAX_CHARS, clip, slots


def test_slots_are_deterministic_distinct_and_in_range() -> None:
    a = slots("Solve x + 2 = 5 for x.", 1 << 10)
    b = slots("Solve x + 2 = 5 for x.", 1 << 10)
    assert np.array_equal(np.sort(a), np.sort(b))
    assert len(np.unique(a)) == len(a) and a.min() >= 0 and a.max() < 1 << 10
    assert len(slots("", 1 << 10)) == 0


def test_case_and_word_order_matter_the_right_way() -> None:
    assert set(slots("Hello World", 1 << 16)) == set(slots("hello world", 1 << 16))
    assert set(slots("dog bites man", 1 << 16)) != set(slots("man bites dog", 1 << 16))  # bigrams


def test_long_prompts_are_read_on_head_and_tail() -> None:
    text = "a" * 10 + "x " * 10_000 + "zzz"
    clipped = clip(text)
    assert len(clipped) == MAX_CHARS + 1 and clipped.startswith("a" * 10) and clipped.endswith("zzz")
    assert clip("short") == "short"
