"""A Gemini ``GenerateContentResponse`` → the canonical response (one choice per candidate);
the helpers here are shared with the stream translator."""

from __future__ import annotations

import uuid
from typing import Any, cast

import orjson

from unigate.errors import ProviderError, UpstreamServerError
from unigate.providers.gemini.errors import PROVIDER as _PROVIDER
from unigate.providers.gemini.errors import blocked, raw_of
from unigate.types import (
    ChatMessage,
    ChatResponse,
    Choice,
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


def tool_call_of(part: dict[str, Any], index: int | None = None) -> ToolCallDelta:
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


def split_parts(parts: list[dict[str, Any]]) -> tuple[str, str, list[dict[str, Any]]]:
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


def from_native(body: Any, public_model: str) -> ChatResponse:
    """A ``GenerateContentResponse`` → ``chat.completion`` (one choice per candidate)."""
    if not isinstance(body, dict):
        raise ProviderError(f"{_PROVIDER}: reply is not an object", provider=_PROVIDER, status=502, raw=raw_of(body))
    candidates = body.get("candidates") or []
    if not candidates:
        if (body.get("promptFeedback") or {}).get("blockReason"):
            raise blocked(body)
        raise UpstreamServerError(
            f"{_PROVIDER}: reply has no candidates", provider=_PROVIDER, status=502, raw=raw_of(body)
        )
    prompt_blocked = bool((body.get("promptFeedback") or {}).get("blockReason"))
    choices: list[Choice] = []
    for position, candidate in enumerate(candidates):
        text, reasoning, calls = split_parts((candidate.get("content") or {}).get("parts") or [])
        message: ChatMessage = {"role": "assistant", "content": text if text or not calls else None}
        if reasoning:
            message["reasoning_content"] = reasoning
        if calls:
            # a whole call is a streamed call without its index
            message["tool_calls"] = [cast(ToolCall, tool_call_of(part)) for part in calls]
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
