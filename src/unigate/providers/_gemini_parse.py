"""Gemini replies → canonical objects: ``from_native`` (one ``GenerateContentResponse``),
``from_native_event`` (one ``streamGenerateContent?alt=sse`` event, with per-stream state held
in a :class:`GeminiStreamState` the caller owns) and ``parse_error`` (Google's error JSON)."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from typing import Any, cast

import orjson

from unigate.errors import (
    ContentFiltered,
    ContextWindowExceeded,
    ProviderError,
    UpstreamRateLimited,
    UpstreamServerError,
    classify_http_status,
    parse_retry_after,
)
from unigate.types import (
    ChatChunk,
    ChatMessage,
    ChatResponse,
    Choice,
    ChunkChoice,
    Delta,
    ToolCall,
    ToolCallDelta,
    Usage,
    make_usage,
    new_completion_id,
    now,
)

FINISH_REASONS: dict[str, str] = {
    "STOP": "stop",
    "MAX_TOKENS": "length",
    "SAFETY": "content_filter",
    "RECITATION": "content_filter",
    "BLOCKLIST": "content_filter",
    "PROHIBITED_CONTENT": "content_filter",
    "SPII": "content_filter",
    "IMAGE_SAFETY": "content_filter",
    "LANGUAGE": "stop",
    "OTHER": "stop",
    "MALFORMED_FUNCTION_CALL": "stop",
    "UNEXPECTED_TOOL_CALL": "stop",
    "FINISH_REASON_UNSPECIFIED": "stop",
}

_PROVIDER = "gemini"


def finish_reason(native: str | None, has_tool_calls: bool) -> str | None:
    if native is None:
        return None
    mapped = FINISH_REASONS.get(native, "stop")
    # Gemini says STOP after a function call; OpenAI clients loop on "tool_calls".
    return "tool_calls" if has_tool_calls and mapped == "stop" else mapped


def usage_from_native(meta: dict[str, Any] | None) -> Usage | None:
    if not isinstance(meta, dict):
        return None
    prompt = int(meta.get("promptTokenCount") or 0) + int(meta.get("toolUsePromptTokenCount") or 0)
    thoughts = int(meta.get("thoughtsTokenCount") or 0)
    completion = int(meta.get("candidatesTokenCount") or 0) + thoughts
    cached = int(meta.get("cachedContentTokenCount") or 0)
    usage = make_usage(prompt, completion, cached=cached, reasoning=thoughts)
    audio_in, audio_out = _audio(meta.get("promptTokensDetails")), _audio(meta.get("candidatesTokensDetails"))
    if audio_in:  # audio is priced apart from text
        usage["prompt_tokens_details"] = {**usage.get("prompt_tokens_details", {}), "audio_tokens": audio_in}
    if audio_out:
        usage["completion_tokens_details"] = {**usage.get("completion_tokens_details", {}), "audio_tokens": audio_out}
    return usage


def _audio(details: Any) -> int:
    """Audio tokens of a per-modality breakdown (``[{"modality": "AUDIO", "tokenCount": n}]``)."""
    if not isinstance(details, list):
        return 0
    return sum(int(d.get("tokenCount") or 0) for d in details if isinstance(d, dict) and d.get("modality") == "AUDIO")


def _tool_call(part: dict[str, Any], index: int | None = None) -> ToolCallDelta:
    call = part["functionCall"]
    tool_call: ToolCallDelta = {
        "id": call.get("id") or "call_" + uuid.uuid4().hex[:24],
        "type": "function",
        "function": {
            "name": call.get("name", ""),
            "arguments": orjson.dumps(call.get("args") or {}).decode(),
        },
    }
    if index is not None:
        tool_call = {"index": index, **tool_call}  # index first, as OpenAI writes it
    if part.get("thoughtSignature"):
        # Same place Google's OpenAI-compatible endpoint puts it; clients that echo the tool call
        # back unchanged let Gemini 3 keep its reasoning across the tool round trip.
        tool_call["extra_content"] = {"google": {"thought_signature": part["thoughtSignature"]}}
    return tool_call


def _split_parts(parts: list[dict[str, Any]]) -> tuple[str, str, list[dict[str, Any]]]:
    """(text, reasoning, function-call parts) of one candidate's parts."""
    text: list[str] = []
    reasoning: list[str] = []
    calls: list[dict[str, Any]] = []
    for part in parts:
        if "functionCall" in part:
            calls.append(part)
        elif isinstance(part.get("text"), str):
            (reasoning if part.get("thought") else text).append(part["text"])
    return "".join(text), "".join(reasoning), calls


def _raw(body: Any) -> bytes:
    return orjson.dumps(body)[:2000]


def _blocked(body: dict[str, Any]) -> ContentFiltered:
    feedback = body.get("promptFeedback") or {}
    reason = feedback.get("blockReason")
    detail = feedback.get("blockReasonMessage") or ""
    return ContentFiltered(
        f"{_PROVIDER}: prompt blocked ({reason}){': ' + detail if detail else ''}",
        provider=_PROVIDER,
        status=400,
        raw=_raw(body),
    )


def from_native(body: Any, public_model: str) -> ChatResponse:
    """A ``GenerateContentResponse`` → ``chat.completion`` (one choice per candidate)."""
    if not isinstance(body, dict):
        raise ProviderError(f"{_PROVIDER}: reply is not an object", provider=_PROVIDER, status=502, raw=_raw(body))
    candidates = body.get("candidates") or []
    if not candidates:
        if (body.get("promptFeedback") or {}).get("blockReason"):
            raise _blocked(body)
        raise UpstreamServerError(
            f"{_PROVIDER}: reply has no candidates", provider=_PROVIDER, status=502, raw=_raw(body)
        )
    prompt_blocked = bool((body.get("promptFeedback") or {}).get("blockReason"))
    choices: list[Choice] = []
    for position, candidate in enumerate(candidates):
        text, reasoning, calls = _split_parts((candidate.get("content") or {}).get("parts") or [])
        message: ChatMessage = {"role": "assistant", "content": text if text or not calls else None}
        if reasoning:
            message["reasoning_content"] = reasoning
        if calls:
            # a whole call is a streamed call without its index
            message["tool_calls"] = [cast(ToolCall, _tool_call(part)) for part in calls]
        reason = finish_reason(candidate.get("finishReason") or "STOP", bool(calls))
        if prompt_blocked:
            reason = "content_filter"
        choices.append(
            {
                "index": candidate.get("index", position),
                "message": message,
                "logprobs": None,
                "finish_reason": reason,
            }
        )
    response: ChatResponse = {
        "id": "chatcmpl-" + body["responseId"] if body.get("responseId") else new_completion_id(),
        "object": "chat.completion",
        "created": now(),
        "model": public_model,
        "choices": choices,
    }
    usage = usage_from_native(body.get("usageMetadata"))
    if usage is not None:
        response["usage"] = usage
    return response


@dataclass
class GeminiStreamState:
    """What one stream needs to remember between events (owned by the caller, one per stream)."""

    response_id: str
    model: str
    created: int
    usage: Usage | None = None
    started: set[int] = field(default_factory=set)  # candidates whose first delta carried the role
    tool_calls: dict[int, int] = field(default_factory=dict)  # candidate → tool calls emitted so far


def from_native_event(data: bytes, state: GeminiStreamState) -> ChatChunk | None:
    """One SSE ``data:`` payload → one ``chat.completion.chunk`` (``None`` for usage-only events).

    Each Gemini stream event is a whole ``GenerateContentResponse`` holding only the new parts;
    ``usageMetadata`` is cumulative, so the last one seen is kept for the final usage chunk."""
    event = orjson.loads(data)
    if isinstance(event, list):  # Vertex sometimes wraps errors in a list
        event = event[0] if event else {}
    if "error" in event and not event.get("candidates"):
        error = event["error"] if isinstance(event["error"], dict) else {}
        raise parse_error(int(error.get("code") or 500), data, None)
    usage = usage_from_native(event.get("usageMetadata"))
    if usage is not None:
        state.usage = usage
    candidates = event.get("candidates") or []
    if not candidates:
        if (event.get("promptFeedback") or {}).get("blockReason"):
            raise _blocked(event)
        return None
    choices: list[ChunkChoice] = []
    for position, candidate in enumerate(candidates):
        index = int(candidate.get("index", position))
        text, reasoning, calls = _split_parts((candidate.get("content") or {}).get("parts") or [])
        delta: Delta = {}
        if index not in state.started:
            state.started.add(index)
            delta["role"] = "assistant"
        if text or "role" in delta:
            delta["content"] = text
        if reasoning:
            delta["reasoning_content"] = reasoning
        if calls:
            first = state.tool_calls.get(index, 0)
            delta["tool_calls"] = [_tool_call(part, first + n) for n, part in enumerate(calls)]
            state.tool_calls[index] = first + len(calls)
        reason = finish_reason(candidate.get("finishReason"), state.tool_calls.get(index, 0) > 0)
        choices.append({"index": index, "delta": delta, "logprobs": None, "finish_reason": reason})
    return {
        "id": state.response_id,
        "object": "chat.completion.chunk",
        "created": state.created,
        "model": state.model,
        "choices": choices,
    }


def stream_usage_chunk(state: GeminiStreamState) -> ChatChunk | None:
    """The closing usage-only chunk (``choices: []``), as OpenAI sends with include_usage."""
    if state.usage is None:
        return None
    return {
        "id": state.response_id,
        "object": "chat.completion.chunk",
        "created": state.created,
        "model": state.model,
        "choices": [],
        "usage": state.usage,
    }


_CONTEXT_MARKERS = (
    "input token count",
    "exceeds the maximum number of tokens",
    "prompt is too long",
    "context window",
    "too many tokens",
    "request payload size exceeds",
)

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)s\s*$")


def _retry_delay(details: Any) -> float | None:
    for detail in details if isinstance(details, list) else ():
        if isinstance(detail, dict) and str(detail.get("@type", "")).endswith("RetryInfo"):
            match = _DURATION.match(str(detail.get("retryDelay", "")))
            if match:
                return float(match.group(1))
    return None


def parse_error(status: int, raw: bytes, headers: Any = None, provider: str = _PROVIDER) -> ProviderError:
    """Google's ``{"error": {"code", "message", "status", "details"}}`` → the error tree."""
    message = ""
    google_status: str | None = None
    details: Any = None
    try:
        body = orjson.loads(raw) if raw else {}
        if isinstance(body, list):
            body = body[0] if body else {}
        error = body.get("error", body) if isinstance(body, dict) else {}
        if isinstance(error, dict):
            message = str(error.get("message") or "")
            google_status = error.get("status")
            details = error.get("details")
        elif isinstance(error, str):
            message = error
    except (orjson.JSONDecodeError, AttributeError):
        message = raw[:500].decode(errors="replace")
    message = message or f"upstream returned HTTP {status}"
    text = f"{provider}: {message}"
    retry_after = _retry_delay(details) or parse_retry_after(headers)
    # The classified errors keep their own codes (context_length_exceeded …) for OpenAI clients.
    kwargs: dict[str, Any] = {"provider": provider, "status": status, "raw": raw}
    if status == 429 or google_status == "RESOURCE_EXHAUSTED":
        return UpstreamRateLimited(text, retry_after=retry_after, **kwargs)
    if google_status == "UNAVAILABLE" or (status >= 500 and google_status != "DEADLINE_EXCEEDED" and status != 504):
        return UpstreamServerError(text, retry_after=retry_after, **kwargs)
    if status in (400, 413) and any(marker in message.lower() for marker in _CONTEXT_MARKERS):
        return ContextWindowExceeded(text, **kwargs)
    return classify_http_status(status, text, provider=provider, raw=raw, retry_after=retry_after, code=google_status)
