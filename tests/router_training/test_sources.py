from __future__ import annotations

from pathlib import Path

import pytest

from unigate.router_training.data import DataError
from unigate.router_training.sources import EVAL_PAIRS, calibrate_label, load_sources


def test_labels_are_calibrated_per_source() -> None:
    assert calibrate_label(1.0, "correct_binary") == 1.0
    assert calibrate_label(0.4, "correct_binary_or_metric") == 0.4
    # judge grades: 5/10 and below is a failure, 10/10 a full success
    assert calibrate_label(0.5, "gpt4_grade_1to10_scaled_0to1") == 0.0
    assert calibrate_label(1.0, "gpt4_grade_1to10_scaled_0to1") == 1.0
    assert calibrate_label(0.75, "gpt4_grade_1to10_scaled_0to1") == pytest.approx(0.5)


def test_open_sources_load_with_profiles_and_eval_pairs(mmlu_dir: Path) -> None:
    rows = load_sources(mmlu_dir, ["arena_bench_v1", "zeroeval_crux"])
    assert {r.source for r in rows} == {"arena_bench_v1", "zeroeval_crux"}
    assert sum(r.source == "zeroeval_crux" for r in rows) == 800
    for r in rows:
        strong, weak = EVAL_PAIRS[r.source]
        assert r.example.strong_q == r.scores[strong] and r.example.weak_q == r.scores[weak]
        assert all(0.0 <= v <= 1.0 for v in r.scores.values())
        assert not r.mmlu_derived
    crux = next(r for r in rows if r.source == "zeroeval_crux")
    assert {"gpt-4o", "gpt-4o-mini", "claude-3-haiku", "llama-3.1-8b"} <= set(crux.scores)
    assert crux.task_type == "code_reasoning"


def test_mmlu_derived_rows_are_flagged(mmlu_dir: Path) -> None:
    rows = load_sources(mmlu_dir, ["mmlu_pro"])
    derived = [r for r in rows if r.mmlu_derived]
    assert 6000 < len(derived) < len(rows)  # the ori_mmlu-* rows, and only those


def test_unknown_source_is_an_error(mmlu_dir: Path) -> None:
    with pytest.raises(DataError, match="unknown source"):
        load_sources(mmlu_dir, ["gsm8k_test"])
