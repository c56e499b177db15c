"""Structured logs: one line per request on the ``unigate.requests`` logger, JSON (orjson) or text.

Request lines are built on the hot path as a small dict and handed to a queue; a background
thread formats and writes them (``logging.handlers.QueueListener``), so a slow stderr never
blocks the event loop. :meth:`LogSetup.close` drains the queue on shutdown.

Prompts are never logged unless ``observability.log_prompts`` is on.
"""

from __future__ import annotations

import logging
import logging.handlers
import queue
import sys
import time
from typing import IO, Any

import orjson

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
        "endpoint": ctx.endpoint,
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
    auto = ctx.extras.get("auto")
    if auto is not None:
        fields["auto"] = auto if isinstance(auto, dict) else str(auto)
    if prompt is not None:
        fields["messages"] = prompt
    return fields


class LogSetup:
    """Installs the configured formatter on the ``unigate`` loggers and the queue for request lines."""

    def __init__(self, *, fmt: str = "json", level: str = "INFO", stream: IO[str] | None = None) -> None:
        formatter: logging.Formatter = JsonFormatter() if fmt == "json" else TextFormatter()
        self.handler = logging.StreamHandler(stream or sys.stderr)
        self.handler.setFormatter(formatter)
        self.queue: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
        self.listener = logging.handlers.QueueListener(self.queue, self.handler, respect_handler_level=False)
        self.request_logger = logging.getLogger(REQUEST_LOGGER)
        self.request_logger.setLevel(logging.INFO)
        self.request_logger.propagate = False
        self._queue_handler = _FieldsQueueHandler(self.queue)
        self.request_logger.handlers = [self._queue_handler]
        # other gateway logs: same format, configured level
        root = logging.getLogger("unigate")
        root.setLevel(level)
        root.handlers = [self.handler]
        root.propagate = False
        self.listener.start()

    def emit(self, fields: dict[str, Any]) -> None:
        logger = self.request_logger
        if logger.isEnabledFor(logging.INFO):
            record = logger.makeRecord(logger.name, logging.INFO, "", 0, "request", (), None)
            setattr(record, FIELDS_ATTR, fields)
            self._queue_handler.handle(record)

    def close(self) -> None:
        self.listener.stop()  # drains what is queued
        self.handler.flush()


class _FieldsQueueHandler(logging.handlers.QueueHandler):
    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        return record  # formatting happens on the listener thread
