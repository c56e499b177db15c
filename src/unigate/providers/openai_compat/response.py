"""An OpenAI-compatible reply → the canonical response: the upstream already speaks the canonical
form, so this only normalises what some upstreams say differently.

- ``reasoning`` (Groq, OpenRouter, Ollama) → ``reasoning_content`` (DeepSeek's name, ours).
- ``content`` as a list of typed parts (Mistral's reasoning models: ``thinking`` parts, whose
  ``thinking`` is a list of text parts, then ``text`` parts) → text ``content`` plus
  ``reasoning_content``; OpenAI clients expect a string there.
- tool calls without an ``id`` get one; without a ``type``, ``"function"``.
"""

from __future__ import annotations

import uuid
from typing import Any, cast

import orjson

from unigate.errors import UpstreamServerError
from unigate.types import ChatResponse

_PART_TYPES = frozenset({"text", "thinking"})


def _part_text(value: Any) -> str:
    """A ``thinking`` part's ``thinking`` (a string, or a list of text parts) as text."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "".join(p.get("text", "") for p in value if isinstance(p, dict) and p.get("type") == "text")
    return ""


def split_typed_content(content: Any) -> tuple[str, str] | None:
    """``[{"type": "thinking", ...}, {"type": "text", ...}]`` → (text, reasoning); ``None`` when
    the content is not such a list (a string, ``None``, or parts of other kinds, left alone)."""
    if not isinstance(content, list) or not content:
        return None
    if not all(isinstance(p, dict) and p.get("type") in _PART_TYPES for p in content):
        return None
    text = "".join(p.get("text") or "" for p in content if p["type"] == "text")
    reasoning = "".join(_part_text(p.get("thinking")) for p in content if p["type"] == "thinking")
    return text, reasoning


def normalize_reasoning(fields: dict[str, Any]) -> None:
    """A message or a delta, in place: typed-part content and ``reasoning`` → our fields."""
    split = split_typed_content(fields.get("content"))
    if split is not None:
        text, reasoning = split
        if text or not fields.get("tool_calls"):
            fields["content"] = text
        else:
            fields["content"] = None
        if reasoning and not fields.get("reasoning_content"):
            fields["reasoning_content"] = reasoning
    named = fields.get("reasoning")
    if named and isinstance(named, str) and not fields.get("reasoning_content"):
        fields["reasoning_content"] = named


def _normalize_message(message: dict[str, Any]) -> None:
    normalize_reasoning(message)
    for call in message.get("tool_calls") or ():
        if not call.get("id"):
            call["id"] = "call_" + uuid.uuid4().hex[:24]
        call.setdefault("type", "function")


def from_native(body: dict[str, Any], public_model: str) -> ChatResponse:
    if not isinstance(body, dict) or not isinstance(body.get("choices"), list):
        raise UpstreamServerError("upstream reply has no choices", status=502, raw=orjson.dumps(body)[:2000])
    for choice in body["choices"]:
        message = choice.get("message")
        if isinstance(message, dict):
            _normalize_message(message)
    body["model"] = public_model
    body.setdefault("object", "chat.completion")
    return cast(ChatResponse, body)  # the upstream speaks the canonical form, normalised above
