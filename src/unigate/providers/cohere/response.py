"""Cohere v2 chat replies → the canonical response.

Mapping: text items → ``content``, thinking items → ``reasoning_content``, tool calls →
``tool_calls``, ``tool_plan`` → ``content`` when there is no other text. Usage is taken from
``usage.billed_units`` (what Cohere charges; ``usage.tokens`` also counts Cohere's own hidden
prompt) and falls back to ``usage.tokens``. ``finish_reason``: COMPLETE/STOP_SEQUENCE → stop,
MAX_TOKENS/TIMEOUT → length, TOOL_CALL → tool_calls; ERROR raises UpstreamServerError.
"""

from __future__ import annotations

from typing import Any

import orjson

from unigate.errors import ProviderError, UpstreamServerError
from unigate.providers.cohere.errors import PROVIDER
from unigate.types import ChatMessage, ChatResponse, ToolCall, Usage, make_response

_FINISH = {
    "COMPLETE": "stop",
    "STOP_SEQUENCE": "stop",
    "MAX_TOKENS": "length",
    "TIMEOUT": "length",
    "TOOL_CALL": "tool_calls",
}


def usage_from_native(usage: dict[str, Any] | None) -> Usage:
    usage = usage or {}
    billed = usage.get("billed_units") or {}
    tokens = usage.get("tokens") or {}
    prompt = int(billed.get("input_tokens") or tokens.get("input_tokens") or 0)
    completion = int(billed.get("output_tokens") or tokens.get("output_tokens") or 0)
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def finish_reason(reason: str | None, error: str | None = None, raw: Any = None) -> str | None:
    if reason is None:
        return None
    if reason == "ERROR":
        raise UpstreamServerError(f"{PROVIDER}: {error or 'generation failed'}", provider=PROVIDER, status=500, raw=raw)
    return _FINISH.get(reason, "stop")


def tool_call_of(call: dict[str, Any]) -> ToolCall:
    function = call.get("function") or {}
    arguments = function.get("arguments")
    if not isinstance(arguments, str):
        arguments = orjson.dumps(arguments or {}).decode()
    return {
        "id": call.get("id") or "",
        "type": "function",
        "function": {"name": function.get("name") or "", "arguments": arguments},
    }


def from_native(body: Any, public_model: str) -> ChatResponse:
    """A ``/v2/chat`` reply → a ``chat.completion``."""
    if not isinstance(body, dict) or not isinstance(body.get("message"), dict):
        raise ProviderError(
            "cohere: reply has no message", provider=PROVIDER, status=502, raw=orjson.dumps(body)[:2000]
        )
    native = body["message"]
    texts: list[str] = []
    reasoning: list[str] = []
    content = native.get("content")
    for item in [{"type": "text", "text": content}] if isinstance(content, str) else content or ():
        if item.get("type") == "text":
            texts.append(item.get("text", ""))
        elif item.get("type") == "thinking":
            reasoning.append(item.get("thinking", ""))
    tool_calls = [tool_call_of(c) for c in native.get("tool_calls") or ()]
    text = "".join(texts) or native.get("tool_plan") or ""
    message: ChatMessage = {"role": "assistant", "content": text or (None if tool_calls else "")}
    if tool_calls:
        message["tool_calls"] = tool_calls
    if reasoning:
        message["reasoning_content"] = "".join(reasoning)
    reason = finish_reason(body.get("finish_reason"), None, orjson.dumps(body)[:2000])
    return make_response(
        public_model, message, reason, usage_from_native(body.get("usage")), response_id=body.get("id")
    )
