"""Anthropic Messages API → the canonical OpenAI schema: replies, stream events and errors.

The response half of :mod:`unigate.providers.anthropic` (pure functions, no I/O): ``from_native``
for whole replies, :class:`StreamTranslator` for SSE events (text, thinking and ``input_json_delta``
tool-call fragments with correct indexes, usage from ``message_start`` / ``message_delta``), and
``parse_error`` / ``error_from_payload`` mapping HTTP errors and in-stream ``error`` events into
the error tree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from unigate.errors import (
    ContextWindowExceeded,
    ProviderError,
    UpstreamConnectionError,
    classify_http_status,
    parse_retry_after,
)
from unigate.types import (
    ChatChunk,
    ChatMessage,
    ChatResponse,
    Delta,
    PromptTokensDetails,
    ThinkingBlock,
    ToolCall,
    ToolCallDelta,
    Usage,
    make_chunk,
    make_response,
    new_completion_id,
    now,
)

PROVIDER = "anthropic"

_FINISH = {
    "end_turn": "stop", "stop_sequence": "stop", "pause_turn": "stop", "max_tokens": "length",
    "model_context_window_exceeded": "length", "tool_use": "tool_calls", "refusal": "content_filter",
}  # fmt: skip


def usage_from_native(usage: dict[str, Any] | None) -> Usage:
    usage = usage or {}
    fresh = int(usage.get("input_tokens") or 0)
    cache_read = int(usage.get("cache_read_input_tokens") or 0)
    cache_write = int(usage.get("cache_creation_input_tokens") or 0)
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
            lifetimes = usage.get("cache_creation")
            if isinstance(lifetimes, dict):  # 1-hour writes cost more than 5-minute ones
                details["cache_creation_5m_tokens"] = int(lifetimes.get("ephemeral_5m_input_tokens") or 0)
                details["cache_creation_1h_tokens"] = int(lifetimes.get("ephemeral_1h_input_tokens") or 0)
        result["prompt_tokens_details"] = details
    return result


def finish_reason(stop_reason: str | None) -> str | None:
    if stop_reason is None:
        return None
    return _FINISH.get(stop_reason, "stop")


def _thinking_block(block: dict[str, Any]) -> ThinkingBlock:
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
            thinking_blocks.append(_thinking_block(block))
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


@dataclass
class _Block:
    kind: str
    tool_index: int = -1
    has_arguments: bool = False
    thinking: list[str] = field(default_factory=list)
    signature: str = ""


class StreamTranslator:
    """Anthropic SSE events → OpenAI ``chat.completion.chunk`` dicts, one event at a time.

    ``feed`` returns the chunks an event produces (often none); ``done`` turns true at
    ``message_stop``; ``close`` finishes a stream whose upstream ended without it. Tool calls are
    numbered in the order their blocks open, which is the OpenAI ``index``.
    """

    def __init__(self, public_model: str) -> None:
        self.model = public_model
        self.id = new_completion_id()
        self.created = now()
        self.usage: dict[str, Any] = {}
        self.blocks: dict[int, _Block] = {}
        self.tools = 0
        self.finish: str | None = None
        self.done = False

    def _chunk(self, delta: Delta | None, finish: str | None = None, usage: Usage | None = None) -> ChatChunk:
        return make_chunk(self.id, self.model, delta, finish, created=self.created, usage=usage)

    def feed(self, event: str | None, data: bytes | dict[str, Any]) -> list[ChatChunk]:
        payload = orjson.loads(data) if isinstance(data, bytes | str) else data
        kind = payload.get("type") or event
        if kind == "message_start":
            message = payload.get("message") or {}
            self.id = message.get("id") or self.id
            self.usage.update(message.get("usage") or {})
            return [self._chunk({"role": "assistant", "content": ""})]
        if kind == "content_block_start":
            return self._block_start(int(payload.get("index", 0)), payload.get("content_block") or {})
        if kind == "content_block_delta":
            return self._block_delta(int(payload.get("index", 0)), payload.get("delta") or {})
        if kind == "content_block_stop":
            return self._block_stop(int(payload.get("index", 0)))
        if kind == "message_delta":
            self.usage.update({k: v for k, v in (payload.get("usage") or {}).items() if v is not None})
            stop_reason = (payload.get("delta") or {}).get("stop_reason")
            if stop_reason is None:
                return []
            self.finish = finish_reason(stop_reason)
            return [self._chunk({}, self.finish)]
        if kind == "message_stop":
            self.done = True
            return [self._chunk(None, usage=usage_from_native(self.usage))]
        if kind == "error":
            raise error_from_payload(payload, raw=data if isinstance(data, bytes) else orjson.dumps(payload))
        return []  # ping and event types added later

    def _block_start(self, index: int, block: dict[str, Any]) -> list[ChatChunk]:
        kind = block.get("type", "")
        state = self.blocks[index] = _Block(kind)
        if kind == "text" and block.get("text"):
            return [self._chunk({"content": block["text"]})]
        if kind == "thinking" and block.get("thinking"):
            state.thinking.append(block["thinking"])
            return [self._chunk({"reasoning_content": block["thinking"]})]
        if kind == "redacted_thinking":
            return [self._chunk({"thinking_blocks": [_thinking_block(block)]})]
        if kind == "tool_use":
            state.tool_index = self.tools
            self.tools += 1
            initial = block.get("input")
            arguments = orjson.dumps(initial).decode() if initial else ""
            state.has_arguments = bool(arguments)
            call: ToolCallDelta = {
                "index": state.tool_index,
                "id": block.get("id") or "",
                "type": "function",
                "function": {"name": block.get("name") or "", "arguments": arguments},
            }
            return [self._chunk({"tool_calls": [call]})]
        return []

    def _block_delta(self, index: int, delta: dict[str, Any]) -> list[ChatChunk]:
        state = self.blocks.get(index) or _Block("")
        kind = delta.get("type")
        if kind == "text_delta" and delta.get("text"):
            return [self._chunk({"content": delta["text"]})]
        if kind == "thinking_delta" and delta.get("thinking"):
            state.thinking.append(delta["thinking"])
            return [self._chunk({"reasoning_content": delta["thinking"]})]
        if kind == "signature_delta":
            state.signature += delta.get("signature", "")
        elif kind == "input_json_delta" and delta.get("partial_json") and state.tool_index >= 0:
            state.has_arguments = True
            fragment: ToolCallDelta = {"index": state.tool_index, "function": {"arguments": delta["partial_json"]}}
            return [self._chunk({"tool_calls": [fragment]})]
        return []

    def _block_stop(self, index: int) -> list[ChatChunk]:
        state = self.blocks.get(index)
        if state is None:
            return []
        if state.kind == "tool_use" and not state.has_arguments:
            # A call without arguments streams no JSON at all; OpenAI clients expect "{}".
            return [self._chunk({"tool_calls": [{"index": state.tool_index, "function": {"arguments": "{}"}}]})]
        if state.kind == "thinking":
            block: ThinkingBlock = {
                "type": "thinking",
                "thinking": "".join(state.thinking),
                "signature": state.signature,
            }
            return [self._chunk({"thinking_blocks": [block]})]
        return []

    def close(self) -> list[ChatChunk]:
        """Chunks owed when the upstream stream ends; raises if it ended before finishing."""
        if self.done:
            return []
        if self.finish is None:
            raise UpstreamConnectionError("anthropic: stream ended before the message finished", provider=PROVIDER)
        self.done = True
        return [self._chunk(None, usage=usage_from_native(self.usage))]


# ---------------------------------------------------------------------------------------------
# Errors

# Anthropic error ``type`` → the HTTP status it is documented with (used for in-stream errors).
ERROR_TYPE_STATUS = {
    "invalid_request_error": 400, "authentication_error": 401, "billing_error": 402, "permission_error": 403,
    "not_found_error": 404, "request_too_large": 413, "rate_limit_error": 429, "api_error": 500,
    "timeout_error": 504, "overloaded_error": 529,
}  # fmt: skip

_CONTEXT_MARKERS = ("prompt is too long", "exceed context limit", "context window", "too many tokens")


def _classify(
    status: int, message: str, error_type: str | None, raw: bytes | str | None, retry_after: float | None
) -> ProviderError:
    text = f"{PROVIDER}: {message}"
    if status in (400, 413) and any(marker in message.lower() for marker in _CONTEXT_MARKERS):
        return ContextWindowExceeded(text, provider=PROVIDER, status=status, raw=raw)
    return classify_http_status(status, text, provider=PROVIDER, raw=raw, retry_after=retry_after, code=error_type)


def error_from_payload(payload: dict[str, Any], raw: bytes | str | None = None) -> ProviderError:
    """An ``{"type": "error", "error": {...}}`` object (HTTP body or stream event) → the tree."""
    found = payload.get("error")
    error: dict[str, Any] = found if isinstance(found, dict) else {}
    error_type = error.get("type")
    message = str(error.get("message") or error_type or "upstream error")
    return _classify(ERROR_TYPE_STATUS.get(error_type or "", 500), message, error_type, raw, None)


def parse_error(status: int, raw: bytes, headers: Any = None) -> ProviderError:
    """A non-2xx Messages API reply → the error tree, keeping Anthropic's message."""
    error_type: str | None = None
    try:
        body = orjson.loads(raw) if raw else {}
        error = body.get("error") if isinstance(body, dict) else None
        if isinstance(error, dict):
            error_type = error.get("type")
            message = str(error.get("message") or error_type or "")
        else:
            message = str(error or "")
    except orjson.JSONDecodeError:
        message = raw[:500].decode(errors="replace")
    return _classify(status, message or f"upstream returned HTTP {status}", error_type, raw, parse_retry_after(headers))
