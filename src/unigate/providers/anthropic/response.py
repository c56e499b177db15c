"""Anthropic Messages API replies → the canonical response (pure, no I/O).

Text blocks → ``content``; ``tool_use`` → ``tool_calls`` (arguments as JSON text); ``thinking``
→ ``reasoning_content``, and every thinking / redacted-thinking block is also kept whole in
``thinking_blocks`` (never in ``content``); server-tool blocks are not translated. Usage: input +
cache reads + cache writes → ``prompt_tokens``, with ``cached_tokens`` = cache reads and
``cache_creation_tokens`` (+ the 5-minute / 1-hour split when given) = cache writes.
"""

from __future__ import annotations

from typing import Any

import orjson

from unigate.errors import ProviderError
from unigate.providers.anthropic.errors import PROVIDER, error_from_payload
from unigate.providers.anthropic.tables import CACHE_READ_FIELD, CACHE_WRITE_FIELD, CACHE_WRITE_SPLIT, FINISH_REASON
from unigate.types import (
    ChatMessage,
    ChatResponse,
    PromptTokensDetails,
    ThinkingBlock,
    ToolCall,
    Usage,
    make_response,
)


def usage_from_native(usage: dict[str, Any] | None) -> Usage:
    usage = usage or {}
    fresh = int(usage.get("input_tokens") or 0)
    cache_read = int(usage.get(CACHE_READ_FIELD) or 0)
    cache_write = int(usage.get(CACHE_WRITE_FIELD) or 0)
    completion = int(usage.get("output_tokens") or 0)
    prompt = fresh + cache_read + cache_write
    result: Usage = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }
    if cache_read or cache_write:
        details: PromptTokensDetails = {"cached_tokens": cache_read}
        if cache_write:
            details["cache_creation_tokens"] = cache_write
            split = usage.get("cache_creation")
            for native, canonical in CACHE_WRITE_SPLIT.items():
                tokens = int(split.get(native) or 0) if isinstance(split, dict) else 0
                if tokens:
                    details[canonical] = tokens  # type: ignore[literal-required]
        result["prompt_tokens_details"] = details
    return result


def finish_reason(stop_reason: str | None) -> str | None:
    if stop_reason is None:
        return None
    return FINISH_REASON.get(stop_reason, "stop")


def thinking_block(block: dict[str, Any]) -> ThinkingBlock:
    if block.get("type") == "redacted_thinking":
        return {"type": "redacted_thinking", "data": block.get("data", "")}
    return {
        "type": "thinking",
        "thinking": block.get("thinking", ""),
        "signature": block.get("signature", ""),
    }


def from_native(body: Any, public_model: str) -> ChatResponse:
    """A Messages API reply → a ``chat.completion``."""
    if not isinstance(body, dict) or not isinstance(body.get("content"), list):
        if isinstance(body, dict) and body.get("type") == "error":
            raise error_from_payload(body, raw=orjson.dumps(body))
        raise ProviderError(
            "anthropic: reply has no content", provider=PROVIDER, status=502, raw=orjson.dumps(body)[:2000]
        )
    texts: list[str] = []
    reasoning: list[str] = []
    thinking_blocks: list[ThinkingBlock] = []
    tool_calls: list[ToolCall] = []
    for block in body["content"]:
        kind = block.get("type")
        if kind == "text":
            texts.append(block.get("text", ""))
        elif kind in ("thinking", "redacted_thinking"):
            thinking_blocks.append(thinking_block(block))
            if kind == "thinking":
                reasoning.append(block.get("thinking", ""))
        elif kind == "tool_use":
            arguments = orjson.dumps(block.get("input") or {}).decode()
            tool_calls.append(
                {
                    "id": block.get("id"),
                    "type": "function",
                    "function": {"name": block.get("name"), "arguments": arguments},
                }
            )
        # server_tool_use / *_tool_result blocks belong to server-side tools: not translated.
    message: ChatMessage = {
        "role": "assistant",
        "content": "".join(texts) if texts or not tool_calls else None,
    }
    if tool_calls:
        message["tool_calls"] = tool_calls
    if reasoning:
        message["reasoning_content"] = "".join(reasoning)
    if thinking_blocks:
        message["thinking_blocks"] = thinking_blocks
    return make_response(
        public_model,
        message,
        finish_reason(body.get("stop_reason")),
        usage_from_native(body.get("usage")),
        response_id=body.get("id"),
    )
