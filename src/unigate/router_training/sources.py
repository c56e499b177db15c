"""The vendored routing data as one list of ``Example`` rows, every source on the same footing.

Sources (``datasets/routing-data``; licences and attribution in ``SOURCES`` and the READMEs):

- ``mmlu``: RouteLLM's MMLU set (GPT-4-1106 vs Mixtral-8x7B correctness), contaminated prompts removed;
- ``open/*.jsonl``: MMLU-Pro, ZeroEval MATH level 5 and CRUXEval, Arena-Hard v1 (judge grades),
  LLMRouter's mixed set; each row with ``all_scores`` of many models.

Per row: ``scores`` maps a canonical model profile (``routing/learned/profiles.py``) to a
**calibrated success** in [0, 1] (``calibrate_label``): correctness stays as is; a judge grade
(scaled 1–10 → [0, 1]) becomes a success probability that is 0 up to grade 5 and 1 at grade 10,
so "the cheap model's answer was fine" means the same on every source.

``weak_q`` / ``strong_q`` are the evaluation pair's calibrated scores: the source's own default
pair, except LLMRouter's, whose default (nemotron-49B vs Llama-3.1-8B, 0.555 / 0.542) has so
small a gap that PGR is noise; it is evaluated on nemotron-51B vs Mistral-7B (0.607 / 0.365).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from unigate.router_training.data import STRONG_COLUMN, WEAK_COLUMN, DataError, Example, load_mmlu
from unigate.routing.learned.profiles import profile_for

OPEN_FILES = (
    "mmlu_pro.jsonl",
    "zeroeval_math_l5.jsonl",
    "zeroeval_crux.jsonl",
    "arena_bench_v1.jsonl",
    "llmrouter_dcrouter.jsonl",
)


@dataclass(frozen=True)
class SourceInfo:
    name: str
    attribution: str
    licence: str


SOURCES: dict[str, SourceInfo] = {
    "mmlu": SourceInfo(
        "mmlu",
        "MMLU (Hendrycks et al.) outcomes from RouteLLM (lm-sys/RouteLLM)",
        "Apache-2.0",
    ),
    "mmlu_pro": SourceInfo(
        "mmlu_pro", "MMLU-Pro (TIGER-AI-Lab/MMLU-Pro) with its published model outputs", "MIT data; Apache-2.0 code"
    ),
    "zeroeval_math_l5": SourceInfo(
        "zeroeval_math_l5", "MATH level 5 outcomes from ZeroEval (yuchenlin/ZeroEval)", "MIT data; Apache-2.0 code"
    ),
    "zeroeval_crux": SourceInfo(
        "zeroeval_crux", "CRUXEval outcomes from ZeroEval (yuchenlin/ZeroEval)", "MIT data; Apache-2.0 code"
    ),
    "arena_bench_v1": SourceInfo(
        "arena_bench_v1", "Arena-Hard-Auto v0.1 prompts and GPT-4 judgements (lmarena/arena-hard-auto)", "Apache-2.0"
    ),
    "llmrouter_dcrouter": SourceInfo(
        "llmrouter_dcrouter",
        "LLMRouter routing data (ulab-uiuc/LLMRouter): MATH, GSM8K train, MBPP, HumanEval, NQ, TriviaQA, "
        "MMLU, GPQA, ARC (CC BY-SA 4.0), CommonsenseQA, OpenBookQA, logic grids, CommonGen",
        "MIT (benchmarks' own licences apply)",
    ),
}

# evaluation pair per source (canonical profiles); see the module docstring for LLMRouter's
EVAL_PAIRS: dict[str, tuple[str, str]] = {
    "mmlu": ("gpt-4-turbo", "mixtral-8x7b"),
    "mmlu_pro": ("gpt-4o", "mixtral-8x7b"),
    "zeroeval_math_l5": ("gpt-4o", "llama-3.1-8b"),
    "zeroeval_crux": ("gpt-4o", "llama-3.1-8b"),
    "arena_bench_v1": ("gpt-4-turbo", "mixtral-8x7b"),
    "llmrouter_dcrouter": ("llama-3.1-nemotron-51b", "mistral-7b"),
}
MMLU_TASK_TYPE = "mcq_knowledge_reasoning"


def calibrate_label(score: float, label_type: str) -> float:
    """A source's raw score → the success probability the heads are trained on."""
    if label_type.startswith("gpt4_grade"):
        return min(1.0, max(0.0, (score - 0.5) / 0.5))  # grade ≤ 5/10 → 0, 10/10 → 1
    return min(1.0, max(0.0, float(score)))


@dataclass(frozen=True)
class Row:
    """One labelled prompt of the vendored data."""

    example: Example  # prompt + the evaluation pair's weak_q / strong_q; group = source
    source: str
    task_type: str
    subset: str
    scores: dict[str, float]  # profile → calibrated success
    mmlu_derived: bool  # an MMLU question (RouteLLM MMLU, MMLU-Pro ori_mmlu-*, LLMRouter's mmlu subset)

    @property
    def prompt(self) -> str:
        return self.example.prompt


def _profile_scores(all_scores: dict[str, float], label_type: str) -> dict[str, float]:
    sums: dict[str, list[float]] = {}
    for model, value in all_scores.items():
        profile = profile_for(model)
        if profile is not None and value is not None:
            sums.setdefault(profile, []).append(calibrate_label(float(value), label_type))
    return {p: sum(v) / len(v) for p, v in sums.items()}  # two columns of one profile: their mean


def load_open_file(path: Path) -> list[Row]:
    rows: list[Row] = []
    with path.open(encoding="utf-8") as fh:
        for i, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                raise DataError(f"{path}:{i}: invalid JSON ({e.msg})") from None
            source = str(obj["source"]) if obj.get("source") in SOURCES else path.stem
            label_type = str(obj.get("label_type", "correct_binary"))
            scores = _profile_scores(dict(obj.get("all_scores") or {}), label_type)
            strong_p, weak_p = EVAL_PAIRS.get(source, ("", ""))
            strong = scores.get(strong_p, calibrate_label(float(obj["strong_score"]), label_type))
            weak = scores.get(weak_p, calibrate_label(float(obj["weak_score"]), label_type))
            subset = str(obj.get("subset", ""))
            origin = str(obj.get("origin") or "")
            rows.append(
                Row(
                    example=Example(str(obj["prompt"]), weak, strong, source),
                    source=source,
                    task_type=str(obj.get("task_type", "")),
                    subset=subset,
                    scores=scores,
                    mmlu_derived=origin.startswith("ori_mmlu") or (source == "llmrouter_dcrouter" and subset == "mmlu"),
                )
            )
    return rows


def load_routellm_mmlu(root: Path) -> list[Row]:
    strong_p, weak_p = profile_for(STRONG_COLUMN), profile_for(WEAK_COLUMN)
    assert strong_p is not None and weak_p is not None
    return [
        Row(
            example=Example(e.prompt, e.weak_q, e.strong_q, "mmlu"),
            source="mmlu",
            task_type=MMLU_TASK_TYPE,
            subset=e.group,
            scores={strong_p: e.strong_q, weak_p: e.weak_q},
            mmlu_derived=True,
        )
        for e in load_mmlu(root)
    ]


def load_sources(root: str | Path, sources: Iterable[str] | None = None) -> list[Row]:
    """Every row of the vendored data under ``root`` (``datasets/routing-data``), optionally only some sources."""
    base = Path(root)
    wanted = set(sources) if sources is not None else set(SOURCES)
    unknown = wanted - set(SOURCES)
    if unknown:
        raise DataError(f"unknown source(s): {', '.join(sorted(unknown))}; known: {', '.join(SOURCES)}")
    rows: list[Row] = []
    if "mmlu" in wanted:
        rows += load_routellm_mmlu(base)
    for name in OPEN_FILES:
        if Path(name).stem in wanted:
            path = base / "open" / name
            if not path.exists():
                raise DataError(f"{path}: missing (expected the vendored open routing data)")
            rows += load_open_file(path)
    return rows
