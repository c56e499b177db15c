"""A Bedrock ``Converse`` reply → the canonical response; the stop-reason and usage mappings
here are shared with the stream translator."""

from __future__ import annotations

from typing import Any

import orjson

from unigate.errors import ProviderError
from unigate.providers.bedrock.errors import PROVIDER as _PROVIDER
from unigate.types import (
    ChatMessage,
    ChatResponse,
    ThinkingBlock,
    ToolCall,
    Usage,
    make_usage,
    new_completion_id,
    now,
)

STOP_REASONS: dict[str, str] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "guardrail_intervened": "content_filter",
    "content_filtered": "content_filter",
}


def stop_reason(native: str | None) -> str:
    return STOP_REASONS.get(native or "end_turn", "stop")


def usage_from_native(usage: dict[str, Any] | None) -> Usage | None:
    if not isinstance(usage, dict):
        return None
    # inputTokens excludes cache reads/writes (total = input + cacheRead + cacheWrite + output);
    # OpenAI's prompt_tokens includes cached tokens, so add them back.
    cache_read = int(usage.get("cacheReadInputTokens") or 0)
    cache_write = int(usage.get("cacheWriteInputTokens") or 0)
    prompt = int(usage.get("inputTokens") or 0) + cache_read + cache_write
    return make_usage(prompt, int(usage.get("outputTokens") or 0), cached=cache_read, cache_write=cache_write)


def from_native(body: Any, public_model: str) -> ChatResponse:
    """A ``Converse`` reply → ``chat.completion``."""
    output = body.get("output") if isinstance(body, dict) else None
    message = output.get("message") if isinstance(output, dict) else None
    if not isinstance(message, dict):
        raise ProviderError(
            f"{_PROVIDER}: reply has no output.message",
            provider=_PROVIDER,
            status=502,
            raw=orjson.dumps(body)[:2000],
        )
    text: list[str] = []
    reasoning: list[str] = []
    blocks: list[ThinkingBlock] = []
    calls: list[ToolCall] = []
    for block in message.get("content") or ():
        if "text" in block:
            text.append(block["text"])
        elif "toolUse" in block:
            use = block["toolUse"]
            calls.append(
                {
                    "id": use.get("toolUseId") or "",
                    "type": "function",
                    "function": {
                        "name": use.get("name", ""),
                        "arguments": orjson.dumps(use.get("input", {})).decode(),
                    },
                }
            )
        elif "reasoningContent" in block:
            content = block["reasoningContent"]
            if "reasoningText" in content:
                thought = content["reasoningText"]
                reasoning.append(thought.get("text", ""))
                if thought.get("signature"):  # unsigned reasoning (gpt-oss, Qwen, Kimi) is never replayed
                    signed: ThinkingBlock = {
                        "type": "thinking",
                        "thinking": thought.get("text", ""),
                        "signature": thought["signature"],
                    }
                    blocks.append(signed)
            elif "redactedContent" in content:
                blocks.append({"type": "redacted_thinking", "data": content["redactedContent"]})
    out: ChatMessage = {"role": "assistant", "content": "".join(text) if text or not calls else None}
    if reasoning:
        out["reasoning_content"] = "".join(reasoning)
    if blocks:
        # Anthropic-on-Bedrock needs these (signature / redacted data) back verbatim next turn.
        out["thinking_blocks"] = blocks
    if calls:
        out["tool_calls"] = calls
    response: ChatResponse = {
        "id": new_completion_id(),
        "object": "chat.completion",
        "created": now(),
        "model": public_model,
        "choices": [
            {
                "index": 0,
                "message": out,
                "logprobs": None,
                "finish_reason": stop_reason(body.get("stopReason")),
            }
        ],
    }
    usage = usage_from_native(body.get("usage"))
    if usage is not None:
        response["usage"] = usage
    return response
