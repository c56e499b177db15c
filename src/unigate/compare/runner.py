"""Run every prompt through every model with bounded concurrency, then score the answers."""

from __future__ import annotations

import asyncio
import sys
import time
from dataclasses import dataclass, field
from typing import IO, Any

from unigate.compare.client import Call, Transport
from unigate.compare.prompts import PromptCase
from unigate.compare.scoring import (
    check,
    pairwise_judge_messages,
    parse_pairwise,
    parse_single,
    single_judge_messages,
)


class Progress:
    """A plain progress bar on stderr (``\\r``-redrawn on a terminal, a line per 10 % otherwise)."""

    def __init__(self, total: int, label: str, stream: IO[str] | None = None, width: int = 30) -> None:
        self.total = max(1, total)
        self.done = 0
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.width = width
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._last_decile = -1
        self.started = time.perf_counter()

    def advance(self, errors: int = 0) -> None:
        self.done += 1
        filled = int(self.width * self.done / self.total)
        bar = "#" * filled + "." * (self.width - filled)
        elapsed = time.perf_counter() - self.started
        line = f"{self.label} [{bar}] {self.done}/{self.total} {elapsed:5.1f}s" + (
            f" ({errors} errors)" if errors else ""
        )
        if self.tty:
            self.stream.write("\r" + line + ("\n" if self.done >= self.total else ""))
        else:
            decile = 10 * self.done // self.total
            if decile != self._last_decile:
                self._last_decile = decile
                self.stream.write(line + "\n")
        self.stream.flush()


@dataclass
class RunResult:
    models: list[str]
    cases: list[PromptCase]
    calls: dict[str, dict[str, Call]] = field(default_factory=dict)  # model → case id → call
    judge: str | None = None
    judge_mode: str = "single"
    judge_calls: list[Call] = field(default_factory=list)
    wall_seconds: float = 0.0

    @property
    def judge_cost(self) -> float:
        return sum(c.cost or 0.0 for c in self.judge_calls)


def _body(case: PromptCase, messages: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"messages": messages or case.messages, **case.params}


async def run(
    transport: Transport,
    models: list[str],
    cases: list[PromptCase],
    *,
    concurrency: int = 4,
    judge: str | None = None,
    judge_mode: str = "single",
    progress_stream: IO[str] | None = None,
    quiet: bool = False,
) -> RunResult:
    result = RunResult(models, cases, {m: {} for m in models}, judge, judge_mode)
    semaphore = asyncio.Semaphore(max(1, concurrency))
    started = time.perf_counter()
    jobs = [(model, case) for case in cases for model in models]
    progress = None if quiet else Progress(len(jobs), "answers", progress_stream)
    errors = 0

    async def one(model: str, case: PromptCase) -> None:
        nonlocal errors
        async with semaphore:
            call = await transport.chat(model, case.id, _body(case))
        if call.error is None:
            call.score, call.note = check(case, call.text)
        else:
            errors += 1
        result.calls[model][case.id] = call
        if progress is not None:
            progress.advance(errors)

    await asyncio.gather(*(one(m, c) for m, c in jobs))
    if judge:
        await _judge(transport, result, judge, judge_mode, semaphore, progress_stream, quiet)
    result.wall_seconds = time.perf_counter() - started
    return result


def _judged(case: PromptCase, judge: str | None) -> bool:
    return judge is not None and (case.match == "judge" or case.match is None)


async def _judge(
    transport: Transport,
    result: RunResult,
    judge: str,
    mode: str,
    semaphore: asyncio.Semaphore,
    stream: IO[str] | None,
    quiet: bool,
) -> None:
    cases = [c for c in result.cases if _judged(c, judge)]
    baseline = result.models[0]
    tasks: list[tuple[str, PromptCase, list[dict[str, str]], str]] = []  # model, case, messages, order
    for case in cases:
        for model in result.models:
            call = result.calls[model].get(case.id)
            if call is None or call.error is not None:
                continue
            if mode == "single":
                tasks.append((model, case, single_judge_messages(case, call.text), "single"))
            elif model != baseline:
                base = result.calls[baseline].get(case.id)
                base_text = base.text if base is not None and base.error is None else ""
                # both orders, to cancel the judge's position bias
                tasks.append((model, case, pairwise_judge_messages(case, call.text, base_text), "AB"))
                tasks.append((model, case, pairwise_judge_messages(case, base_text, call.text), "BA"))
            else:
                call.score, call.note = 0.5, "pairwise baseline"
    progress = None if quiet or not tasks else Progress(len(tasks), "judge  ", stream)
    votes: dict[tuple[str, str], list[float]] = {}

    async def grade(model: str, case: PromptCase, messages: list[dict[str, str]], order: str) -> None:
        async with semaphore:
            verdict = await transport.chat(judge, f"judge:{case.id}:{model}:{order}", {"messages": messages})
        result.judge_calls.append(verdict)
        score: float | None = None
        if verdict.error is None:
            if order == "single":
                score = parse_single(verdict.text)
            else:
                winner = parse_pairwise(verdict.text)
                mine = "A" if order == "AB" else "B"
                score = None if winner is None else 0.5 if winner == "tie" else float(winner == mine)
        if score is not None:
            votes.setdefault((model, case.id), []).append(score)
        if progress is not None:
            progress.advance()

    await asyncio.gather(*(grade(*task) for task in tasks))
    for case in cases:
        for model in result.models:
            call = result.calls[model].get(case.id)
            if call is None or call.error is not None or (mode == "pairwise" and model == baseline):
                continue
            got = votes.get((model, case.id))
            if got:
                call.score = round(sum(got) / len(got), 4)
                call.note = f"judge ({mode})"
            else:
                call.note = "judge gave no usable verdict"
