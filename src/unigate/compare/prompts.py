"""Prompt sets: JSON Lines, one case per line.

Fields: ``id`` (default: line number), ``prompt`` (user text) or ``messages`` (chat messages),
``system`` (optional system prompt), ``max_tokens``, ``temperature``; and how to score it:
``expected`` with ``match`` = ``exact`` (default, case- and whitespace-insensitive) |
``contains`` | ``regex`` (``expected`` is the pattern) — or ``schema`` (a JSON schema the answer
must satisfy, ``match: json_schema``) — or ``rubric`` for the LLM judge (``match: judge``;
cases without any check are judged too when ``--judge`` is given).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

MATCHES = ("exact", "contains", "regex", "json_schema", "judge")


class PromptSetError(ValueError):
    pass


@dataclass(slots=True)
class PromptCase:
    id: str
    messages: list[dict[str, Any]]
    match: str | None = None
    expected: str | None = None
    schema: dict[str, Any] | None = None
    rubric: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    pattern: re.Pattern[str] | None = None

    @property
    def question(self) -> str:
        """The last user message as text (for the judge and the report)."""
        for message in reversed(self.messages):
            if message.get("role") == "user" and isinstance(message.get("content"), str):
                return str(message["content"])
        return ""


def parse_case(raw: dict[str, Any], index: int, where: str) -> PromptCase:
    if not isinstance(raw, dict):
        raise PromptSetError(f"{where}: each line must be a JSON object")
    if "messages" in raw:
        messages = raw["messages"]
        if not isinstance(messages, list) or not messages:
            raise PromptSetError(f"{where}: messages must be a non-empty list")
    elif isinstance(raw.get("prompt"), str):
        messages = [{"role": "user", "content": raw["prompt"]}]
    else:
        raise PromptSetError(f"{where}: needs 'prompt' (text) or 'messages'")
    if isinstance(raw.get("system"), str):
        messages = [{"role": "system", "content": raw["system"]}, *messages]
    expected = raw.get("expected")
    if expected is not None and not isinstance(expected, str):
        expected = orjson.dumps(expected).decode()
    schema = raw.get("schema")
    match = raw.get("match")
    if match is None:
        if schema is not None:
            match = "json_schema"
        elif expected is not None:
            match = "exact"
        elif raw.get("rubric"):
            match = "judge"
    if match is not None and match not in MATCHES:
        raise PromptSetError(f"{where}: match must be one of {', '.join(MATCHES)}, not {match!r}")
    if match in ("exact", "contains", "regex") and expected is None:
        raise PromptSetError(f"{where}: match {match!r} needs 'expected'")
    if match == "json_schema" and not isinstance(schema, dict):
        raise PromptSetError(f"{where}: match 'json_schema' needs 'schema' (an object)")
    pattern = None
    if match == "regex":
        try:
            pattern = re.compile(str(expected), re.IGNORECASE | re.DOTALL)
        except re.error as exc:
            raise PromptSetError(f"{where}: bad regex: {exc}") from exc
    params: dict[str, Any] = {k: raw[k] for k in ("max_tokens", "temperature", "seed", "response_format") if k in raw}
    return PromptCase(
        id=str(raw.get("id", index + 1)),
        messages=messages,
        match=match,
        expected=expected,
        schema=schema,
        rubric=raw.get("rubric"),
        params=params,
        pattern=pattern,
    )


def load_prompts(path: str | Path) -> list[PromptCase]:
    path = Path(path)
    cases: list[PromptCase] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("//"):
            continue
        where = f"{path}:{number}"
        try:
            raw = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            raise PromptSetError(f"{where}: invalid JSON: {exc}") from exc
        cases.append(parse_case(raw, len(cases), where))
    if not cases:
        raise PromptSetError(f"{path}: no prompts")
    ids = [c.id for c in cases]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise PromptSetError(f"{path}: duplicate id {dupes[0]!r}")
    return cases
