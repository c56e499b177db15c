"""Feedback and prompt records, stored as JSONL files in ``config.data_dir``.

- ``feedback.jsonl``: one line per ``POST /v1/feedback``
  (``{"request_id", "score", "label"?, "comment"?, "key_id", "time"}``).
- ``auto-prompts.jsonl``: only with ``auto.record_prompts: true`` (off by default: prompts are
  user data): the prompt of each successful auto-routed request with its routing decision,
  bounded to ``auto.max_recorded_prompts`` records (older ones are dropped on compaction).

``export_training`` joins the two into the JSONL the learned router trains on
(``unigate router train --from-feedback``; formats in ``router_training/data.py``):

- feedback ``label`` "strong" / "weak" / "tie" → ``{"prompt", "winner": label}``;
- otherwise a request answered by a cheaper tier → ``{"prompt", "label": 1 - score}`` (a poor
  answer from the cheap model means the prompt needed the strong one);
- a request answered by the strong tier says nothing about the cheap model and is skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from unigate.errors import BadRequest
from unigate.private_files import private_dir, private_file

log = logging.getLogger("unigate.auto")

FEEDBACK_FILE = "feedback.jsonl"
PROMPTS_FILE = "auto-prompts.jsonl"
WINNER_LABELS = frozenset({"strong", "weak", "tie"})


def _append(path: Path, lines: list[bytes]) -> None:
    private_dir(path.parent)
    with private_file(path).open("ab") as fh:  # prompts and scores: owner-only
        fh.write(b"".join(line + b"\n" for line in lines))
        fh.flush()
        os.fsync(fh.fileno())


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    if not path.exists():
        return
    with path.open("rb") as fh:
        for line in fh:
            line = line.strip()
            if not line:
                continue
            try:
                record = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue  # a torn last line after a crash
            if isinstance(record, dict):
                yield record


def validate_feedback(body: dict[str, Any]) -> dict[str, Any]:
    request_id = body.get("request_id")
    if not isinstance(request_id, str) or not request_id or len(request_id) > 200:
        raise BadRequest("'request_id' must be a non-empty string.", param="request_id", code="invalid_value")
    score = body.get("score")
    if isinstance(score, bool) or not isinstance(score, int | float) or not 0 <= score <= 1:
        raise BadRequest("'score' must be a number between 0 and 1.", param="score", code="invalid_value")
    record: dict[str, Any] = {"request_id": request_id, "score": float(score)}
    label = body.get("label")
    if label is not None:
        if not isinstance(label, str) or len(label) > 200:
            raise BadRequest("'label' must be a string.", param="label", code="invalid_value")
        record["label"] = label
    comment = body.get("comment")
    if comment is not None:
        if not isinstance(comment, str) or len(comment) > 10000:
            raise BadRequest("'comment' must be a string (at most 10000 characters).", param="comment")
        record["comment"] = comment
    return record


class FeedbackStore:
    def __init__(self, data_dir: str | Path) -> None:
        self.path = Path(data_dir) / FEEDBACK_FILE
        self._lock = threading.Lock()

    def _write(self, record: dict[str, Any]) -> None:
        with self._lock:
            _append(self.path, [orjson.dumps(record)])

    async def add(self, record: dict[str, Any]) -> None:
        await asyncio.to_thread(self._write, {**record, "time": time.time()})


class PromptStore:
    """Buffered in memory, written by a background task (never on the request path) and on shutdown."""

    def __init__(self, data_dir: str | Path, max_records: int, flush_interval: float = 1.0) -> None:
        self.path = Path(data_dir) / PROMPTS_FILE
        self.max_records = max_records
        self.flush_interval = flush_interval
        self._pending: list[bytes] = []
        self._lock = threading.Lock()
        self._lines: int | None = None
        self._task: asyncio.Task[None] | None = None

    def add(self, record: dict[str, Any]) -> None:
        self._pending.append(orjson.dumps(record))

    def flush_sync(self) -> None:
        batch, self._pending = self._pending, []
        if not batch:
            return
        with self._lock:
            if self._lines is None:
                self._lines = sum(1 for _ in read_jsonl(self.path))
            _append(self.path, batch)
            self._lines += len(batch)
            if self._lines > 2 * self.max_records:
                self._compact()

    def _compact(self) -> None:
        keep = list(read_jsonl(self.path))[-self.max_records :]
        tmp = self.path.with_suffix(".tmp")
        tmp.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in keep))
        os.replace(tmp, self.path)
        self._lines = len(keep)

    async def flush(self) -> None:
        if self._pending:
            await asyncio.to_thread(self.flush_sync)

    async def start(self) -> None:
        async def loop() -> None:
            while True:
                await asyncio.sleep(self.flush_interval)
                try:
                    await self.flush()
                except OSError as exc:
                    log.warning("auto routing: cannot write %s: %s", self.path, exc)

        self._task = asyncio.ensure_future(loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.flush()


def export_training(data_dir: str | Path) -> Iterator[dict[str, Any]]:
    """Training records (see the module docstring), one per request with both a prompt and feedback."""
    root = Path(data_dir)
    prompts = {r["request_id"]: r for r in read_jsonl(root / PROMPTS_FILE) if isinstance(r.get("request_id"), str)}
    feedback: dict[str, dict[str, Any]] = {}
    for record in read_jsonl(root / FEEDBACK_FILE):
        if isinstance(record.get("request_id"), str):
            feedback[record["request_id"]] = record  # the latest feedback for a request wins
    for request_id, fb in feedback.items():
        routed = prompts.get(request_id)
        if routed is None or not isinstance(routed.get("prompt"), str):
            continue
        out: dict[str, Any] = {"prompt": routed["prompt"], "request_id": request_id}
        label = fb.get("label")
        if label in WINNER_LABELS:
            out["winner"] = label
        elif not routed.get("strong"):
            out["label"] = round(1.0 - float(fb["score"]), 6)
        else:
            continue
        yield out


def write_training(data_dir: str | Path, out: Any) -> int:
    count = 0
    for record in export_training(data_dir):
        out.write(json.dumps(record, ensure_ascii=False) + "\n")
        count += 1
    return count
