"""The gateway's own traffic as training rows: ``/v1/feedback`` exports and ``unigate compare`` results.

- ``rows_from_feedback(path)``: the JSONL of ``unigate router export-feedback`` (or any file in the
  ``data.py`` formats: ``winner``, ``label``, ``weak_correct``/``strong_correct``);
- ``rows_from_compare(results, prompts, strong, weak)``: ``unigate compare --json`` results joined
  with the compare prompt set: per prompt, the judged/checked score of the ``strong`` and the
  ``weak`` model become ``strong_q`` / ``weak_q``; every model's score is also kept under its
  profile (``routing/learned/profiles.py``), so profile heads learn from it too.

Rows from traffic form their own source (``feedback`` / ``compare``): the source fixed effect
absorbs their level, the content weights learn from them, and ``router train --from-feedback``
recomputes the score quantiles on these prompts, so a threshold's strong share fits the
user's traffic.
"""

from __future__ import annotations

import json
from pathlib import Path

from unigate.router_training.data import DataError, Example, load_jsonl
from unigate.router_training.sources import Row
from unigate.routing.learned.profiles import profile_for


def rows_from_feedback(path: str | Path) -> list[Row]:
    return [
        Row(Example(e.prompt, e.weak_q, e.strong_q, "feedback"), "feedback", "feedback", "", {}, False)
        for e in load_jsonl(path)
    ]


def rows_from_compare(results: str | Path, prompts: str | Path, strong: str, weak: str) -> list[Row]:
    from unigate.compare.prompts import load_prompts

    try:
        payload = json.loads(Path(results).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise DataError(f"{results}: cannot read compare results ({e})") from None
    calls = payload.get("calls") if isinstance(payload, dict) else None
    if not isinstance(calls, list):
        raise DataError(f"{results}: not a `unigate compare --json` file (no 'calls' list)")
    text = {case.id: case.question for case in load_prompts(prompts)}
    by_case: dict[str, dict[str, float]] = {}
    for call in calls:
        if not isinstance(call, dict) or call.get("score") is None or call.get("error"):
            continue
        by_case.setdefault(str(call.get("case_id")), {})[str(call.get("model"))] = float(call["score"])
    rows: list[Row] = []
    for case_id, scores in by_case.items():
        prompt = text.get(case_id)
        if not prompt or strong not in scores or weak not in scores:
            continue
        profiles = {p: s for m, s in scores.items() if (p := profile_for(m)) is not None}
        rows.append(
            Row(Example(prompt, scores[weak], scores[strong], "compare"), "compare", "compare", "", profiles, False)
        )
    if not rows:
        raise DataError(f"{results}: no prompt has scores for both {strong!r} and {weak!r}")
    return rows
