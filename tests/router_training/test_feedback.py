from __future__ import annotations

import json
from pathlib import Path

import pytest

from unigate.router_training.data import DataError
from unigate.router_training.feedback import rows_from_compare, rows_from_feedback


def test_feedback_export_becomes_rows(tmp_path: Path) -> None:
    path = tmp_path / "fb.jsonl"
    path.write_text(
        json.dumps({"prompt": "hard one", "winner": "strong"}) + "\n" + json.dumps({"prompt": "easy", "label": 0.2})
    )
    rows = rows_from_feedback(path)
    assert [r.source for r in rows] == ["feedback", "feedback"]
    assert (rows[0].example.weak_q, rows[0].example.strong_q) == (0.0, 1.0)
    assert rows[1].example.strong_q == pytest.approx(0.2)


def test_compare_results_join_their_prompts(tmp_path: Path) -> None:
    prompts = tmp_path / "p.jsonl"
    prompts.write_text(
        json.dumps({"id": "a", "prompt": "What is 17 * 23?", "expected": "391"})
        + "\n"
        + json.dumps({"id": "b", "prompt": "Say hi", "expected": "hi"})
        + "\n"
    )
    results = tmp_path / "r.json"
    calls = [
        {"model": "gpt-4o", "case_id": "a", "score": 1.0, "error": None},
        {"model": "local/smollm2-135m", "case_id": "a", "score": 0.0, "error": None},
        {"model": "gpt-4o", "case_id": "b", "score": 1.0, "error": None},
        {"model": "local/smollm2-135m", "case_id": "b", "score": None, "error": "timeout"},
    ]
    results.write_text(json.dumps({"summary": [], "calls": calls}))
    rows = rows_from_compare(results, prompts, "gpt-4o", "local/smollm2-135m")
    assert len(rows) == 1  # case b has no usable weak score
    (row,) = rows
    assert row.prompt == "What is 17 * 23?" and row.source == "compare"
    assert (row.example.weak_q, row.example.strong_q) == (0.0, 1.0)
    assert row.scores == {"gpt-4o": 1.0}
    with pytest.raises(DataError, match="no prompt has scores"):
        rows_from_compare(results, prompts, "gpt-4o", "other")
    results.write_text("[]")
    with pytest.raises(DataError, match="not a `unigate compare --json` file"):
        rows_from_compare(results, prompts, "gpt-4o", "local/smollm2-135m")
