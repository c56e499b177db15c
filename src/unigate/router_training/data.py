"""Routing data: the RouteLLM MMLU set and user JSONL files, as one list of ``Example``.

An ``Example`` carries the prompt, a ``group`` (the MMLU subject, or the user's ``group``
field, used to build leave-groups-out folds) and two qualities in [0, 1]:

- ``weak_q`` / ``strong_q`` – how good the weak / strong model's answer was (MMLU: correct = 1).
  The quality gain of calling the strong model is ``strong_q - weak_q``; every metric in
  ``metrics.py`` is computed from these two columns.

User JSONL lines (one object per line) may take any of three shapes:

- ``{"prompt": ..., "weak_correct": bool, "strong_correct": bool}``
- ``{"prompt": ..., "winner": "strong" | "weak" | "tie"}`` (pairwise preference)
- ``{"prompt": ..., "label": 0..1}`` (1 = needs the strong model)

Pairwise and label lines become ``weak_q = 1 - p``, ``strong_q = p`` with p the strong
model's win probability (tie = 0.5), so a higher label means a larger gain.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

WEAK_COLUMN = "mistralai/Mixtral-8x7B-Instruct-v0.1"
STRONG_COLUMN = "gpt-4-1106-preview"
DATA_ENV_VAR = "UNIGATE_ROUTING_DATA"
# MMLU subjects whose strong-model labels are broken (below the 25% chance level of a
# 4-option question: GPT-4 scores 3% on high_school_mathematics, an answer-extraction
# artifact). Training skips them; evaluation keeps them (they are part of the benchmark).
MMLU_LABEL_ARTIFACTS: tuple[str, ...] = ("high_school_mathematics",)


class DataError(ValueError):
    """A routing data file or directory is missing or malformed (message names the place)."""


@dataclass(frozen=True, slots=True)
class Example:
    prompt: str
    weak_q: float
    strong_q: float
    group: str = ""

    @property
    def gain(self) -> float:
        return self.strong_q - self.weak_q


def _truthy(value: str) -> bool:
    return value.strip().lower() in ("true", "1", "yes")


def load_contaminated(path: Path) -> set[str]:
    """The ``eval_prompt`` of every line of a RouteLLM ``contaminated_prompts.jsonl``."""
    out: set[str] = set()
    if not path.exists():
        return out
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            line = line.strip()
            if line:
                out.add(json.loads(line)["eval_prompt"])
    return out


def _mmlu_dir(path: Path) -> Path:
    """Accept either the ``routing-data`` dir or its ``mmlu`` subdir."""
    if (path / "mmlu").is_dir() and not any(path.glob("mmlu_*.csv")):
        return path / "mmlu"
    return path


def load_mmlu(
    path: str | Path,
    *,
    exclude_contaminated: bool = True,
    subjects: Iterable[str] | None = None,
) -> list[Example]:
    """Load every ``mmlu_<subject>.csv`` in ``path`` (group = subject), minus contaminated prompts."""
    root = _mmlu_dir(Path(path))
    files = sorted(root.glob("mmlu_*.csv"))
    if not files:
        raise DataError(f"{root}: no mmlu_*.csv files")
    wanted = set(subjects) if subjects is not None else None
    contaminated = load_contaminated(root / "contaminated_prompts.jsonl") if exclude_contaminated else set()
    out: list[Example] = []
    for f in files:
        subject = f.stem[len("mmlu_") :]
        if wanted is not None and subject not in wanted:
            continue
        with f.open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            fields = reader.fieldnames or []
            if "prompt" not in fields or WEAK_COLUMN not in fields or STRONG_COLUMN not in fields:
                raise DataError(f"{f}: expected columns prompt, {WEAK_COLUMN}, {STRONG_COLUMN}")
            for row in reader:
                prompt = row["prompt"]
                if prompt in contaminated:
                    continue
                out.append(
                    Example(
                        prompt=prompt,
                        weak_q=float(_truthy(row[WEAK_COLUMN])),
                        strong_q=float(_truthy(row[STRONG_COLUMN])),
                        group=subject,
                    )
                )
    return out


def parse_record(obj: object, where: str = "") -> Example:
    """One user JSONL record → ``Example`` (see the module docstring for the shapes)."""
    if not isinstance(obj, dict) or not isinstance(obj.get("prompt"), str):
        raise DataError(f"{where}: expected an object with a string 'prompt'")
    prompt: str = obj["prompt"]
    group = str(obj.get("group", ""))
    if "weak_correct" in obj and "strong_correct" in obj:
        return Example(prompt, float(bool(obj["weak_correct"])), float(bool(obj["strong_correct"])), group)
    if "winner" in obj:
        winner = obj["winner"]
        p = {"strong": 1.0, "weak": 0.0, "tie": 0.5}.get(str(winner))
        if p is None:
            raise DataError(f"{where}: 'winner' must be 'strong', 'weak' or 'tie', got {winner!r}")
        return Example(prompt, 1.0 - p, p, group)
    if "label" in obj:
        try:
            p = float(obj["label"])
        except (TypeError, ValueError):
            raise DataError(f"{where}: 'label' must be a number in [0, 1]") from None
        if not 0.0 <= p <= 1.0:
            raise DataError(f"{where}: 'label' must be in [0, 1], got {p}")
        return Example(prompt, 1.0 - p, p, group)
    raise DataError(f"{where}: needs weak_correct+strong_correct, winner, or label")


def load_jsonl(path: str | Path) -> list[Example]:
    p = Path(path)
    out: list[Example] = []
    with p.open(encoding="utf-8") as fh:
        for i, line in enumerate(fh, 1):
            line = line.strip()
            if not line:
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                raise DataError(f"{p}:{i}: invalid JSON ({e.msg})") from None
            out.append(parse_record(obj, f"{p}:{i}"))
    if not out:
        raise DataError(f"{p}: no records")
    return out


def load_dataset(path: str | Path) -> list[Example]:
    """A directory → MMLU CSVs; a file → user JSONL."""
    p = Path(path)
    if p.is_dir():
        return load_mmlu(p)
    if p.is_file():
        return load_jsonl(p)
    raise DataError(f"{p}: no such file or directory")


def find_default_data_dir(start: Path | None = None) -> Path | None:
    """Find the routing data: ``$UNIGATE_ROUTING_DATA``, else the repository's vendored
    ``datasets/routing-data`` (searched upward from ``start``/cwd and from this file)."""
    env = os.environ.get(DATA_ENV_VAR)
    if env:
        return Path(env)
    starts = [start or Path.cwd(), Path(__file__).resolve()]
    for s in starts:
        for d in [s, *s.parents]:
            cand = d / "datasets" / "routing-data"
            if (cand / "mmlu").is_dir():
                return cand
    return None
