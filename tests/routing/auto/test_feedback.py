"""Feedback and prompt records on disk, and their export to router training data."""

from __future__ import annotations

import io
import json

import pytest

from unigate.errors import BadRequest
from unigate.router_training.data import parse_record
from unigate.routing.auto.feedback import (
    FEEDBACK_FILE,
    FeedbackStore,
    PromptStore,
    export_training,
    read_jsonl,
    validate_feedback,
    write_training,
)


def prompt(rid: str, text: str, strong: bool) -> dict:
    return {"request_id": rid, "prompt": text, "strong": strong, "score": 0.5, "chosen": "m", "policy": "auto"}


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"request_id": "", "score": 1},
        {"request_id": "r", "score": 1.5},
        {"request_id": "r", "score": True},
        {"request_id": "r", "score": 0.5, "label": 3},
    ],
)
def test_invalid_feedback_is_rejected(body):
    with pytest.raises(BadRequest):
        validate_feedback(body)


async def test_feedback_and_prompts_export_to_training_records(tmp_path):
    store = FeedbackStore(tmp_path)
    prompts = PromptStore(tmp_path, max_records=100)
    for record in (prompt("a", "easy one", False), prompt("b", "hard one", True), prompt("c", "pair", True)):
        prompts.add(record)
    await prompts.flush()
    await store.add(validate_feedback({"request_id": "a", "score": 0.2}))
    await store.add(validate_feedback({"request_id": "a", "score": 0.9}))  # the latest wins
    await store.add(validate_feedback({"request_id": "b", "score": 0.1}))  # strong tier: says nothing
    await store.add(validate_feedback({"request_id": "c", "score": 1, "label": "weak"}))
    await store.add(validate_feedback({"request_id": "zzz", "score": 1}))  # no recorded prompt
    records = list(export_training(tmp_path))
    assert records == [
        {"prompt": "easy one", "request_id": "a", "label": pytest.approx(0.1)},
        {"prompt": "pair", "request_id": "c", "winner": "weak"},
    ]
    for record in records:
        parse_record(record)  # the learned router's reader accepts every line
    out = io.StringIO()
    assert write_training(tmp_path, out) == 2
    assert json.loads(out.getvalue().splitlines()[1])["winner"] == "weak"
    assert [r["request_id"] for r in read_jsonl(tmp_path / FEEDBACK_FILE)] == ["a", "a", "b", "c", "zzz"]


def test_prompt_store_is_bounded(tmp_path):
    store = PromptStore(tmp_path, max_records=5)
    for i in range(23):
        store.add(prompt(f"r{i}", f"p{i}", False))
        store.flush_sync()
    kept = [r["request_id"] for r in read_jsonl(store.path)]
    assert len(kept) <= 10 and kept[-1] == "r22"
    assert kept == [f"r{i}" for i in range(23 - len(kept), 23)]


def test_a_torn_last_line_is_skipped(tmp_path):
    path = tmp_path / FEEDBACK_FILE
    path.write_text('{"request_id": "a", "score": 1}\n{"request_id": "b", "sc')
    assert [r["request_id"] for r in read_jsonl(path)] == ["a"]
