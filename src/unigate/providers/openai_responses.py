"""The OpenAI Responses API (``POST /v1/responses``) spoken natively to upstreams that have it.

A request from the gateway's ``/v1/responses`` surface carries the client's body
(``RESPONSES_REQUEST``); an upstream flagged with the Responses API gets that body as it is
(only ``model``, ``stream`` and the gateway's own fields change), and its answer comes back
unchanged beside a canonical reading of it (text, tool calls, finish reason, usage) that
routing, budgets, cost and the ledger use exactly as for chat. Pure functions; the I/O stays
in :class:`unigate.providers.openai_compat.OpenAICompatProvider`.
"""

from __future__ import annotations

from typing import Any

import orjson

from unigate.types import (
    RESPONSES_EVENT,
    RESPONSES_OBJECT,
    RESPONSES_REQUEST,
    ChatChunk,
    ChatMessage,
    ChatRequest,
    ChatResponse,
    Delta,
    Deployment,
    ToolCall,
    ToolCallDelta,
    Usage,
    make_usage,
    now,
)

# Fields the gateway consumes itself, or resolved before the call (the gateway keeps the history).
_NOT_FORWARDED = frozenset({"model", "stream", "route", "models", "unigate", "previous_response_id"})


def wants_native(request: ChatRequest) -> bool:
    return isinstance(request.get(RESPONSES_REQUEST), dict)


def to_native(request: ChatRequest, deployment: Deployment, stream: bool) -> dict[str, Any]:
    body = {k: v for k, v in request[RESPONSES_REQUEST].items() if k not in _NOT_FORWARDED}
    body["model"] = deployment.model
    body["stream"] = stream
    return body


def usage_from_native(usage: Any) -> Usage | None:
    if not isinstance(usage, dict):
        return None
    cached = int((usage.get("input_tokens_details") or {}).get("cached_tokens") or 0)
    reasoning = int((usage.get("output_tokens_details") or {}).get("reasoning_tokens") or 0)
    return make_usage(int(usage.get("input_tokens") or 0), int(usage.get("output_tokens") or 0), cached, reasoning)


def _finish_reason(response: dict[str, Any], has_calls: bool) -> str:
    if response.get("status") == "incomplete":
        reason = (response.get("incomplete_details") or {}).get("reason")
        return "content_filter" if reason == "content_filter" else "length"
    return "tool_calls" if has_calls else "stop"


def _message(output: list[Any]) -> ChatMessage:
    texts: list[str] = []
    calls: list[ToolCall] = []
    reasoning: list[str] = []
    for item in output:
        if not isinstance(item, dict):
            continue
        kind = item.get("type")
        if kind == "message":
            for part in item.get("content") or ():
                if isinstance(part, dict) and part.get("type") == "output_text":
                    texts.append(str(part.get("text") or ""))
        elif kind == "function_call":
            calls.append(
                {
                    "id": str(item.get("call_id") or ""),
                    "type": "function",
                    "function": {"name": str(item.get("name") or ""), "arguments": item.get("arguments") or ""},
                }
            )
        elif kind == "reasoning":
            reasoning.extend(str(p.get("text") or "") for p in item.get("summary") or () if isinstance(p, dict))
    message: ChatMessage = {"role": "assistant", "content": "".join(texts) or None}
    if calls:
        message["tool_calls"] = calls
    if reasoning:
        message["reasoning_content"] = "".join(reasoning)
    return message


def from_native(body: Any, public_model: str) -> ChatResponse:
    """The upstream's ``response`` object → a canonical ``chat.completion`` that carries it."""
    response = body if isinstance(body, dict) else {}
    message = _message(response.get("output") or [])
    chat: ChatResponse = {
        "id": str(response.get("id") or ""),
        "object": "chat.completion",
        "created": int(response.get("created_at") or now()),
        "model": public_model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": _finish_reason(response, bool(message.get("tool_calls"))),
            }
        ],
        RESPONSES_OBJECT: response,
    }
    usage = usage_from_native(response.get("usage"))
    if usage is not None:
        chat["usage"] = usage
    return chat


class EventReader:
    """Native stream events → canonical chunks that carry each event (``RESPONSES_EVENT``).

    The canonical side is what routing needs (the first content, finish reason, usage): text and
    argument deltas, the call that opens a function-call item, and the final usage."""

    def __init__(self, public_model: str) -> None:
        self.model = public_model
        self.calls: dict[int, int] = {}  # output index → tool-call index
        self.done = False

    def _chunk(self, event: dict[str, Any], delta: Delta | None, finish: str | None = None) -> ChatChunk:
        chunk: ChatChunk = {
            "id": "",
            "object": "chat.completion.chunk",
            "created": 0,
            "model": self.model,
            "choices": [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}],
            RESPONSES_EVENT: event,
        }
        return chunk

    def feed(self, data: bytes) -> ChatChunk:
        event = orjson.loads(data)
        kind = event.get("type") if isinstance(event, dict) else None
        if kind == "response.output_text.delta":
            return self._chunk(event, {"content": event.get("delta") or ""})
        if kind == "response.reasoning_summary_text.delta":
            return self._chunk(event, {"reasoning_content": event.get("delta") or ""})
        if kind == "response.output_item.added" and (event.get("item") or {}).get("type") == "function_call":
            item = event["item"]
            index = self.calls.setdefault(int(event.get("output_index") or 0), len(self.calls))
            call: ToolCallDelta = {
                "index": index,
                "id": str(item.get("call_id") or ""),
                "type": "function",
                "function": {"name": str(item.get("name") or ""), "arguments": ""},
            }
            return self._chunk(event, {"tool_calls": [call]})
        if kind == "response.function_call_arguments.delta":
            index = self.calls.get(int(event.get("output_index") or 0), 0)
            return self._chunk(
                event, {"tool_calls": [{"index": index, "function": {"arguments": event.get("delta") or ""}}]}
            )
        if kind in ("response.completed", "response.incomplete", "response.failed"):
            self.done = True
            response = event.get("response") or {}
            chunk = self._chunk(event, {}, _finish_reason(response, bool(self.calls)))
            usage = usage_from_native(response.get("usage"))
            if usage is not None:
                chunk["usage"] = usage
            return chunk
        return self._chunk(event, None)
