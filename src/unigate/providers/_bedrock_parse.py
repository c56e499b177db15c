"""Bedrock Converse replies → canonical objects: ``from_native`` (a ``Converse`` reply),
``from_native_event`` (one decoded ``ConverseStream`` event; per-stream state lives in a
:class:`BedrockStreamState` the caller owns) and ``parse_error`` (AWS error JSON / exception
events)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from unigate.errors import (
    ContentFiltered,
    ContextWindowExceeded,
    ProviderError,
    UpstreamRateLimited,
    UpstreamServerError,
    UpstreamTimeout,
    classify_http_status,
    parse_retry_after,
)
from unigate.types import (
    ChatChunk,
    ChatMessage,
    ChatResponse,
    Delta,
    ThinkingBlock,
    ToolCall,
    ToolCallDelta,
    Usage,
    make_usage,
    new_completion_id,
    now,
)

_PROVIDER = "bedrock"

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
    result = make_usage(prompt, int(usage.get("outputTokens") or 0), cached=cache_read)
    if cache_write:  # priced above plain input (Claude on Bedrock: 1.25x)
        result["prompt_tokens_details"] = {"cached_tokens": cache_read, "cache_creation_tokens": cache_write}
    return result


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


@dataclass
class BedrockStreamState:
    response_id: str
    model: str
    created: int
    tool_index: dict[int, int] = field(default_factory=dict)  # contentBlockIndex → tool call index
    thinking: dict[int, list[str]] = field(default_factory=dict)  # contentBlockIndex → thought text
    signatures: dict[int, str] = field(default_factory=dict)
    role_sent: bool = False


def _chunk(state: BedrockStreamState, delta: Delta | None, finish: str | None = None) -> ChatChunk:
    if delta is not None and not state.role_sent:
        state.role_sent = True
        delta = {"role": "assistant", **delta}
    return {
        "id": state.response_id,
        "object": "chat.completion.chunk",
        "created": state.created,
        "model": state.model,
        "choices": [] if delta is None else [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
    }


def from_native_event(event_type: str, payload: dict[str, Any], state: BedrockStreamState) -> ChatChunk | None:
    """One decoded ``ConverseStream`` event (its ``:event-type`` and JSON payload) → a chunk."""
    if event_type == "messageStart":
        return _chunk(state, {"content": ""})
    if event_type == "contentBlockStart":
        start = payload.get("start") or {}
        use = start.get("toolUse")
        if not isinstance(use, dict):
            return None
        block = int(payload.get("contentBlockIndex", 0))
        index = state.tool_index[block] = len(state.tool_index)
        call: ToolCallDelta = {
            "index": index,
            "id": use.get("toolUseId") or "",
            "type": "function",
            "function": {"name": use.get("name", ""), "arguments": ""},
        }
        return _chunk(state, {"tool_calls": [call]})
    if event_type == "contentBlockDelta":
        block = int(payload.get("contentBlockIndex", 0))
        delta = payload.get("delta") or {}
        if "text" in delta:
            return _chunk(state, {"content": delta["text"]})
        if "toolUse" in delta:
            index = state.tool_index.get(block, 0)
            arguments = (delta["toolUse"] or {}).get("input", "")
            return _chunk(state, {"tool_calls": [{"index": index, "function": {"arguments": arguments}}]})
        reasoning = delta.get("reasoningContent")
        if isinstance(reasoning, dict):
            if "text" in reasoning:
                state.thinking.setdefault(block, []).append(reasoning["text"])
                return _chunk(state, {"reasoning_content": reasoning["text"]})
            if "signature" in reasoning:
                state.signatures[block] = reasoning["signature"]
                return None
            if "redactedContent" in reasoning:
                return _chunk(
                    state,
                    {"thinking_blocks": [{"type": "redacted_thinking", "data": reasoning["redactedContent"]}]},
                )
        return None
    if event_type == "contentBlockStop":
        block = int(payload.get("contentBlockIndex", 0))
        if block in state.signatures:
            # A thinking block is complete only with its signature; hand it over whole.
            thinking = "".join(state.thinking.pop(block, []))
            signature = state.signatures.pop(block)
            return _chunk(
                state,
                {"thinking_blocks": [{"type": "thinking", "thinking": thinking, "signature": signature}]},
            )
        return None
    if event_type == "messageStop":
        return _chunk(state, {}, stop_reason(payload.get("stopReason")))
    if event_type == "metadata":
        usage = usage_from_native(payload.get("usage"))
        if usage is None:
            return None
        chunk = _chunk(state, None)
        chunk["usage"] = usage
        return chunk
    return None


# ---------------------------------------------------------------------------------------------
# Errors

_CONTEXT_MARKERS = (
    "input is too long",
    "too many input tokens",
    "prompt is too long",
    "context length",
    "context window",
    "maximum context",
    "too many tokens",
    "max_tokens exceeds",
    "input length",
)

# AWS exception names (from ``x-amzn-errortype`` or a stream's ``:exception-type``) → class.
_EXCEPTIONS: dict[str, type[ProviderError]] = {
    "throttlingexception": UpstreamRateLimited,
    "servicequotaexceededexception": UpstreamRateLimited,
    "modelnotreadyexception": UpstreamRateLimited,
    "toomanyrequestsexception": UpstreamRateLimited,
    "internalserverexception": UpstreamServerError,
    "serviceunavailableexception": UpstreamServerError,
    "modelstreamerrorexception": UpstreamServerError,
    "modelerrorexception": UpstreamServerError,
    "modeltimeoutexception": UpstreamTimeout,
}


def error_from_exception(kind: str, message: str, status: int | None, raw: bytes | None) -> ProviderError:
    """An AWS exception name + message → the error tree (shared by HTTP errors and stream events)."""
    name = kind.split(":", 1)[0].strip().lower()
    text = f"{_PROVIDER}: {message}" if message else f"{_PROVIDER}: {kind}"
    kwargs: dict[str, Any] = {"provider": _PROVIDER, "status": status, "raw": raw}
    cls = _EXCEPTIONS.get(name)
    if cls is not None:
        return cls(text, **kwargs)
    lowered = message.lower()
    if name in ("validationexception", "") and any(marker in lowered for marker in _CONTEXT_MARKERS):
        return ContextWindowExceeded(text, **kwargs)
    if "guardrail" in lowered and "block" in lowered:
        return ContentFiltered(text, **kwargs)
    return classify_http_status(status or 400, text, provider=_PROVIDER, raw=raw, code=kind.split(":", 1)[0] or None)


def parse_error(status: int, raw: bytes, headers: Any = None) -> ProviderError:
    """An AWS JSON error (``{"message": ...}`` + ``x-amzn-errortype``) → the error tree."""
    message = ""
    kind = ""
    try:
        body = orjson.loads(raw) if raw else {}
        if isinstance(body, dict):
            message = str(body.get("message") or body.get("Message") or "")
            kind = str(body.get("__type") or "").rsplit("#", 1)[-1]
    except orjson.JSONDecodeError:
        message = raw[:500].decode(errors="replace")
    if headers is not None and headers.get("x-amzn-errortype"):
        kind = str(headers.get("x-amzn-errortype"))
    message = message or f"upstream returned HTTP {status}"
    error = error_from_exception(kind, message, status, raw)
    if status == 429 and not isinstance(error, UpstreamRateLimited):
        error = UpstreamRateLimited(error.message, provider=_PROVIDER, status=status, raw=raw)
    if isinstance(error, UpstreamRateLimited | UpstreamServerError):
        error.retry_after = parse_retry_after(headers)
    return error
