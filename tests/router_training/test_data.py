from __future__ import annotations

import json
from pathlib import Path

import pytest

from unigate.router_training.data import (
    DataError,
    load_dataset,
    load_jsonl,
    load_mmlu,
    parse_record,
)

HEADER = "prompt,mistralai/Mixtral-8x7B-Instruct-v0.1,gpt-4-1106-preview\n"


def _mmlu(tmp_path: Path) -> Path:
    d = tmp_path / "routing-data" / "mmlu"
    d.mkdir(parents=True)
    (d / "mmlu_alpha.csv").write_text(HEADER + '"Q1\nA. x\nB. y\nAnswer:",True,False\n"Q2",False,True\n')
    (d / "mmlu_beta.csv").write_text(HEADER + '"Q3",False,False\n')
    (d / "contaminated_prompts.jsonl").write_text(json.dumps({"eval_prompt": "Q2", "train_prompt": "x"}) + "\n")
    return d.parent


def test_load_mmlu_excludes_contaminated_and_sets_groups(tmp_path: Path) -> None:
    root = _mmlu(tmp_path)
    ex = load_mmlu(root)
    assert [(e.prompt.split("\n")[0], e.weak_q, e.strong_q, e.group) for e in ex] == [
        ("Q1", 1.0, 0.0, "alpha"),
        ("Q3", 0.0, 0.0, "beta"),
    ]
    assert len(load_mmlu(root, exclude_contaminated=False)) == 3
    assert [e.group for e in load_mmlu(root / "mmlu", subjects=["beta"])] == ["beta"]
    assert len(load_dataset(root)) == 2


def test_jsonl_shapes(tmp_path: Path) -> None:
    p = tmp_path / "d.jsonl"
    rows = [
        {"prompt": "a", "weak_correct": False, "strong_correct": True},
        {"prompt": "b", "winner": "weak"},
        {"prompt": "c", "winner": "tie", "group": "g"},
        {"prompt": "d", "label": 0.25},
    ]
    p.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n")
    ex = load_jsonl(p)
    assert [(e.weak_q, e.strong_q) for e in ex] == [(0.0, 1.0), (1.0, 0.0), (0.5, 0.5), (0.75, 0.25)]
    assert ex[2].group == "g"
    assert [e.gain for e in ex] == [1.0, -1.0, 0.0, -0.5]


@pytest.mark.parametrize(
    "obj",
    [{"prompt": "a"}, {"prompt": "a", "winner": "both"}, {"prompt": "a", "label": 2}, {"text": "a"}, [1]],
)
def test_bad_records_are_rejected(obj: object) -> None:
    with pytest.raises(DataError):
        parse_record(obj, "x:1")


def test_bad_json_line_names_the_line(tmp_path: Path) -> None:
    p = tmp_path / "bad.jsonl"
    p.write_text('{"prompt": "a", "label": 1}\n{oops\n')
    with pytest.raises(DataError, match=r"bad.jsonl:2"):
        load_jsonl(p)
    with pytest.raises(DataError):
        load_dataset(tmp_path / "missing")
