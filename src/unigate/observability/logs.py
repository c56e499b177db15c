"""Structured logs: one line per request on the ``unigate.requests`` logger, JSON (orjson) or text.

Request lines are built on the hot path as a small dict and collected; batches go to a writer
thread that formats and writes them, so a slow stderr never blocks the event loop and each
request costs no syscall. :meth:`LogSetup.close` drains what is pending on shutdown.

Prompts are never logged unless ``observability.log_prompts`` is on.
"""

from __future__ import annotations

import asyncio
import logging
import os
import queue
import sys
import threading
import time
from typing import IO, Any

import orjson

from unigate.threads import yield_to_loop

REQUEST_LOGGER = "unigate.requests"
FIELDS_ATTR = "unigate_fields"


def _timestamp(record: logging.LogRecord) -> str:
    seconds = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
    return f"{seconds}.{int(record.msecs):03d}Z"


class JsonFormatter(logging.Formatter):
    """``{"ts", "level", "logger", "msg", …fields}`` on one line; request lines carry their fields."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {"ts": _timestamp(record), "level": record.levelname, "logger": record.name}
        fields = getattr(record, FIELDS_ATTR, None)
        if fields is not None:
            data.update(fields)
        else:
            data["msg"] = record.getMessage()
        if record.exc_info:
            data["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(data, default=str).decode()


class TextFormatter(logging.Formatter):
    """``ts LEVEL logger msg key=value …`` for people reading a terminal."""

    def format(self, record: logging.LogRecord) -> str:
        fields = getattr(record, FIELDS_ATTR, None)
        head = f"{_timestamp(record)} {record.levelname:7} {record.name}"
        if fields is None:
            line = f"{head} {record.getMessage()}"
        else:
            parts = []
            for key, value in fields.items():
                if value is None:
                    continue
                text = orjson.dumps(value).decode() if isinstance(value, dict | list) else str(value)
                parts.append(f"{key}={text}")
            line = f"{head} {' '.join(parts)}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def request_fields(ctx: Any, *, prompt: Any = None) -> dict[str, Any]:
    """The fields of one request line (never the key's secret; the prompt only if passed)."""
    deployment = ctx.trace.deployment
    usage = ctx.usage or {}
    details = usage.get("prompt_tokens_details") or {}
    error = ctx.error
    fields: dict[str, Any] = {
        "event": "request",
        "request_id": ctx.request_id,
        "key_name": ctx.principal.key_name,
        "team_id": ctx.principal.team_id,
        "endpoint": ctx.surface or ctx.endpoint,
        "model": ctx.model,
        "deployment": deployment.id if deployment is not None else None,
        "provider": deployment.provider if deployment is not None else None,
        "stream": ctx.stream,
        "attempts": len(ctx.trace.attempts),
        "failed_attempts": [f"{a.deployment}={a.error}" for a in ctx.trace.attempts if a.error] or None,
        "status": ctx.status,
        "error": type(error).__name__ if error is not None else None,
        "error_message": error.message[:300] if error is not None else None,
        "input_tokens": usage.get("prompt_tokens"),
        "output_tokens": usage.get("completion_tokens"),
        "cached_tokens": details.get("cached_tokens"),
        "cost": ctx.cost,
        "latency_ms": round(ctx.latency_ms, 2) if ctx.latency_ms is not None else None,
        "ttft_ms": round(ctx.trace.ttft_ms, 2) if ctx.trace.ttft_ms is not None else None,
    }
    moderation = ctx.extras.get("moderation")
    if moderation is not None:
        fields["moderation"] = moderation
    auto = ctx.extras.get("auto")
    if auto is not None:
        fields["auto"] = auto if isinstance(auto, dict) else str(auto)
    if prompt is not None:
        fields["messages"] = prompt
    return fields


class LogSetup:
    """Installs the configured formatter on the ``unigate`` loggers and the batched request-line writer.

    Request lines cost the hot path one list append: every 100 ms (or every 256 lines) the batch
    goes to a writer thread in one hand-off, which formats it and writes it with one call — no
    LogRecord, no thread wake-up, no syscall per request.
    """

    BATCH_SECONDS = 0.1
    BATCH_LINES = 256

    def __init__(self, *, fmt: str = "json", level: str = "INFO", stream: IO[str] | None = None) -> None:
        formatter: logging.Formatter = JsonFormatter() if fmt == "json" else TextFormatter()
        self.stream = stream or private_stderr()
        self.handler = logging.StreamHandler(self.stream)
        self.handler.setFormatter(formatter)
        self.request_logger = logging.getLogger(REQUEST_LOGGER)
        self.request_logger.setLevel(logging.INFO)
        self.request_logger.propagate = False
        self.request_logger.handlers = [self.handler]  # used only by code that logs request lines itself
        # other gateway logs: same format, configured level
        root = logging.getLogger("unigate")
        root.setLevel(level)
        root.handlers = [self.handler]
        root.propagate = False
        self._format_line = _json_line if fmt == "json" else _text_line
        self._pending: list[tuple[float, dict[str, Any]]] = []
        self._handoff_scheduled = False
        self._batches: queue.SimpleQueue[list[tuple[float, dict[str, Any]]] | None] = queue.SimpleQueue()
        self._writer = threading.Thread(target=self._write_batches, name="unigate-request-log", daemon=True)
        self._writer.start()

    def emit(self, fields: dict[str, Any]) -> None:
        if not self.request_logger.isEnabledFor(logging.INFO):
            return
        self._pending.append((time.time(), fields))
        if len(self._pending) >= self.BATCH_LINES:
            self._handoff()
        elif not self._handoff_scheduled:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:  # called outside the event loop: hand off at once
                self._handoff()
                return
            self._handoff_scheduled = True
            loop.call_later(self.BATCH_SECONDS, self._handoff)

    def _handoff(self) -> None:
        self._handoff_scheduled = False
        if self._pending:
            batch, self._pending = self._pending, []
            self._batches.put(batch)

    def _write_batches(self) -> None:
        yield_to_loop()  # formatting and writing lines never interrupts the serving loop
        while True:
            batch = self._batches.get()
            if batch is None:
                return
            text = "".join(self._format_line(created, fields) + "\n" for created, fields in batch)
            try:
                self.stream.write(text)
                self.stream.flush()
            except (OSError, ValueError):  # a closed or broken stream must not take the gateway down
                pass

    def close(self) -> None:
        self._handoff()
        self._batches.put(None)
        self._writer.join(timeout=10)
        self.handler.flush()


def private_stderr() -> IO[str]:
    """A stream on a duplicate of the process's standard error descriptor.

    Libraries may point descriptor 2 elsewhere for a while: llama-cpp-python's model loading
    sends it to /dev/null (and swaps ``sys.stderr``) to silence llama.cpp. Log lines written in
    that window would be lost; a descriptor of our own still reaches the original stderr.
    """
    try:
        fd = os.dup(sys.__stderr__.fileno() if sys.__stderr__ is not None else 2)
    except (OSError, ValueError, AttributeError):  # no real descriptor (embedded, tests capturing)
        return sys.stderr
    return open(fd, "w", encoding="utf-8", errors="replace", closefd=True)


def _clock(created: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created)) + f".{int(created % 1 * 1000):03d}Z"


def _json_line(created: float, fields: dict[str, Any]) -> str:
    return orjson.dumps(
        {"ts": _clock(created), "level": "INFO", "logger": REQUEST_LOGGER, **fields}, default=str
    ).decode()


def _text_line(created: float, fields: dict[str, Any]) -> str:
    parts = []
    for key, value in fields.items():
        if value is None:
            continue
        text = orjson.dumps(value).decode() if isinstance(value, dict | list) else str(value)
        parts.append(f"{key}={text}")
    return f"{_clock(created)} INFO    {REQUEST_LOGGER} {' '.join(parts)}"
