"""Quality checks: pure functions from (case, answer) to a score in [0, 1], plus the judge prompts."""

from __future__ import annotations

import re
from typing import Any

import orjson

from unigate.compare.prompts import PromptCase

_SPACE = re.compile(r"\s+")
_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL)
_SCORE = re.compile(r"score\s*[:=]?\s*\**\s*(\d+(?:\.\d+)?)", re.IGNORECASE)
_WINNER = re.compile(r"winner\s*[:=]?\s*\**\s*(A|B|tie)\b", re.IGNORECASE)


def normalize(text: str) -> str:
    return _SPACE.sub(" ", text.strip().strip(".").strip()).casefold()


def extract_json(text: str) -> Any:
    """The JSON value in an answer: the whole text, a fenced block, or the outermost {…} / […]."""
    candidates = [text.strip()]
    candidates += [m.strip() for m in _FENCE.findall(text)]
    for open_, close in (("{", "}"), ("[", "]")):
        start, end = text.find(open_), text.rfind(close)
        if 0 <= start < end:
            candidates.append(text[start : end + 1])
    for candidate in candidates:
        try:
            return orjson.loads(candidate)
        except orjson.JSONDecodeError:
            continue
    raise ValueError("no JSON value in the answer")


def schema_errors(value: Any, schema: dict[str, Any]) -> list[str]:
    try:
        import jsonschema
    except ImportError as exc:  # pragma: no cover - jsonschema is in the test extra
        raise RuntimeError("JSON-schema checks need the 'jsonschema' package (pip install jsonschema)") from exc
    validator = jsonschema.Draft202012Validator(schema)
    return [e.message for e in validator.iter_errors(value)]


def check(case: PromptCase, answer: str) -> tuple[float | None, str]:
    """Deterministic checks; ``(None, "")`` for cases without one (or judged ones)."""
    if case.match == "exact":
        ok = normalize(answer) == normalize(case.expected or "")
        return float(ok), "" if ok else f"expected {case.expected!r}"
    if case.match == "contains":
        ok = normalize(case.expected or "") in normalize(answer)
        return float(ok), "" if ok else f"does not contain {case.expected!r}"
    if case.match == "regex":
        assert case.pattern is not None
        ok = case.pattern.search(answer) is not None
        return float(ok), "" if ok else f"does not match /{case.expected}/"
    if case.match == "json_schema":
        assert case.schema is not None
        try:
            value = extract_json(answer)
        except ValueError as exc:
            return 0.0, str(exc)
        errors = schema_errors(value, case.schema)
        if errors:
            return 0.0, "; ".join(errors[:3])
        if case.expected is not None and value != orjson.loads(case.expected):
            return 0.5, "valid JSON, values differ from expected"
        return 1.0, ""
    return None, ""


JUDGE_SYSTEM = "You are a strict, fair grader of AI assistant answers. Follow the output format exactly."


def single_judge_messages(case: PromptCase, answer: str) -> list[dict[str, str]]:
    rubric = case.rubric or "Is the answer correct, complete, and concise?"
    reference = f"\n\nReference answer:\n{case.expected}" if case.expected else ""
    return [
        {"role": "system", "content": JUDGE_SYSTEM},
        {
            "role": "user",
            "content": (
                f"Question:\n{case.question}{reference}\n\nRubric:\n{rubric}\n\nAnswer to grade:\n{answer}\n\n"
                "Grade the answer from 1 (useless) to 10 (perfect). End with a line 'Score: N'."
            ),
        },
    ]


def pairwise_judge_messages(case: PromptCase, first: str, second: str) -> list[dict[str, str]]:
    rubric = case.rubric or "Which answer is more correct, complete, and concise?"
    return [
        {"role": "system", "content": JUDGE_SYSTEM},
        {
            "role": "user",
            "content": (
                f"Question:\n{case.question}\n\nRubric:\n{rubric}\n\nAnswer A:\n{first}\n\nAnswer B:\n{second}\n\n"
                "Compare the two answers. End with a line 'Winner: A', 'Winner: B' or 'Winner: tie'."
            ),
        },
    ]


def parse_single(text: str) -> float | None:
    """A 1–10 grade mapped to [0, 1]; None if the judge did not follow the format."""
    found = _SCORE.findall(text)
    if not found:
        return None
    score = min(10.0, max(1.0, float(found[-1])))
    return round((score - 1) / 9, 4)


def parse_pairwise(text: str) -> str | None:
    found = _WINNER.findall(text)
    return found[-1].upper() if found and found[-1].lower() != "tie" else ("tie" if found else None)
