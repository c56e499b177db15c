"""Prompt-set parsing, deterministic checks, judge verdict parsing, statistics and the Pareto front."""

from __future__ import annotations

import pytest

from unigate.compare.client import Call
from unigate.compare.prompts import PromptSetError, load_prompts, parse_case
from unigate.compare.runner import RunResult
from unigate.compare.scoring import check, extract_json, parse_pairwise, parse_single
from unigate.compare.stats import ModelSummary, mark_pareto, quantile, summarize, table


def case(**raw):
    return parse_case({"prompt": "q", **raw}, 0, "test:1")


def test_match_kinds():
    assert check(case(expected="Positive"), " positive.\n")[0] == 1.0
    assert check(case(expected="positive"), "negative")[0] == 0.0
    assert check(case(expected="Paris", match="contains"), "It is paris, France")[0] == 1.0
    assert check(case(expected=r"answer:\s*155\b", match="regex"), "... Answer: 155 minutes")[0] == 1.0
    assert check(case(expected=r"answer:\s*155\b", match="regex"), "Answer: 1550")[0] == 0.0
    assert check(case(), "anything") == (None, "")


def test_json_schema_validity_and_expected_values():
    schema = {"type": "object", "required": ["n"], "properties": {"n": {"type": "integer"}}}
    assert check(case(schema=schema), 'Sure! ```json\n{"n": 3}\n```')[0] == 1.0
    score, note = check(case(schema=schema), '{"n": "three"}')
    assert score == 0.0 and "not of type 'integer'" in note
    assert check(case(schema=schema), "no json here")[0] == 0.0
    assert check(case(schema=schema, expected={"n": 4}), '{"n": 3}')[0] == 0.5
    assert check(case(schema=schema, expected={"n": 3}), 'x {"n": 3} y')[0] == 1.0
    assert extract_json("[1, 2]") == [1, 2]


def test_prompt_set_errors_name_the_line(tmp_path):
    path = tmp_path / "set.jsonl"
    path.write_text('{"prompt": "a", "expected": "x"}\n{"prompt": "b", "match": "regex"}\n')
    with pytest.raises(PromptSetError, match=r"set.jsonl:2: match 'regex' needs 'expected'"):
        load_prompts(path)
    path.write_text('{"prompt": "a", "match": "fuzzy", "expected": "x"}\n')
    with pytest.raises(PromptSetError, match="match must be one of"):
        load_prompts(path)
    path.write_text('{"id": 1, "prompt": "a"}\n{"id": 1, "prompt": "b"}\n')
    with pytest.raises(PromptSetError, match="duplicate id"):
        load_prompts(path)
    path.write_text('{"prompt": "a", "system": "s", "max_tokens": 3}\n')
    loaded = load_prompts(path)[0]
    assert loaded.messages[0] == {"role": "system", "content": "s"} and loaded.params == {"max_tokens": 3}
    assert loaded.id == "1" and loaded.question == "a"


def test_judge_verdicts():
    assert parse_single("Reasoning...\nScore: 10") == 1.0
    assert parse_single("**Score:** 1") == 0.0
    assert parse_single("Score: 8/10") == pytest.approx(7 / 9, abs=1e-4)
    assert parse_single("great answer") is None
    assert parse_pairwise("Winner: B") == "B"
    assert parse_pairwise("winner: tie") == "tie"
    assert parse_pairwise("both fine") is None


def row(model, quality, cost):
    return ModelSummary(model, 1, 0, None, None, None, None, None, cost, cost, quality, 1)


def test_pareto_front():
    rows = [
        row("cheap", 0.5, 0.0),
        row("mid", 0.6, 0.01),
        row("worse", 0.55, 0.02),
        row("best", 0.9, 0.05),
        row("unscored", None, 0.0),
    ]
    mark_pareto(rows)
    assert [r.model for r in rows if r.pareto] == ["cheap", "mid", "best"]


def test_summary_and_table():
    result = RunResult(["a"], [case(expected="x")])
    result.calls["a"] = {
        "1": Call("a", "1", text="x", ttft_ms=100, latency_ms=1100, output_tokens=50, cost=0.002, score=1.0),
        "2": Call("a", "2", error="HTTP 502: boom"),
    }
    (summary,) = summarize(result)
    assert summary.requests == 2 and summary.errors == 1
    assert summary.tokens_per_second == pytest.approx(50.0)
    assert summary.quality == 0.5  # a failed request scores 0
    assert summary.cost_total == pytest.approx(0.002)
    assert "a" in table([summary], result)
    assert quantile([1, 2, 3, 4], 0.5) == 2.5 and quantile([], 0.5) is None
