"""The Anthropic Messages API as an inbound surface: its wire format ⇄ the canonical form (pure).

The reverse of the outbound translators of this package, reading the same tables
(:mod:`.tables`) the other way: an Anthropic-format request becomes a canonical request the
gateway routes to any provider, and the canonical response / chunks it returns become an
Anthropic message / SSE events; gateway errors become Anthropic error bodies.
``server/anthropic_api.py`` only calls these functions.

Request (Anthropic → OpenAI):

- ``system`` (string or text blocks) → one ``system`` message (text parts when a block carries
  ``cache_control``, so it survives a trip to an Anthropic upstream).
- user ``tool_result`` blocks → ``tool`` messages (before the rest of that user turn, in order);
  ``image`` (base64 / url) → ``image_url`` parts; PDF ``document`` → ``file`` parts; text
  ``document`` → text; assistant ``tool_use`` → ``tool_calls``; ``thinking`` /
  ``redacted_thinking`` → ``thinking_blocks`` (+ ``reasoning_content``) so signed thinking goes
  back unchanged to an Anthropic upstream.
- ``tools`` → function tools (``input_schema`` → ``parameters``; other tool types — Anthropic
  server tools — are kept verbatim); ``tool_choice`` auto/any/tool/none →
  auto/required/named/none; ``disable_parallel_tool_use`` → ``parallel_tool_calls: false``.
- ``max_tokens``, ``temperature``, ``top_p``, ``stop_sequences`` → ``stop``,
  ``metadata.user_id`` → ``user``, ``stream`` (+ ``stream_options.include_usage``).
- ``thinking: {type: enabled, budget_tokens}`` → ``reasoning_effort`` (by budget). When every
  provider that may serve the model accepts Anthropic fields (``Capabilities.anthropic_fields``),
  the Anthropic-only fields (``tables.NATIVE_FIELDS``) pass through instead, and the outbound
  Anthropic translator forwards them unchanged; signed thinking in the history is kept only when
  every such provider replays it (``Capabilities.signed_thinking``: Anthropic, Bedrock).

Response (OpenAI → Anthropic): ``thinking_blocks`` / ``reasoning_content`` → thinking blocks,
text → a text block, ``tool_calls`` → ``tool_use`` blocks; finish_reason → stop_reason; usage →
``input_tokens`` (without cached), ``cache_read_input_tokens``, ``cache_creation_input_tokens``,
``output_tokens``. :class:`StreamTranslator` turns chunks into ``message_start`` …
``message_stop`` events with correct block indexes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from random import getrandbits
from typing import Any

import orjson

from unigate.errors import (
    AuthError,
    BadRequest,
    BudgetExceeded,
    GatewayError,
    NotFound,
    Overloaded,
    PayloadTooLarge,
    PermissionDenied,
    RateLimited,
    UpstreamRateLimited,
    UpstreamTimeout,
)
from unigate.providers.anthropic.tables import (
    CACHE_READ_FIELD,
    CACHE_WRITE_FIELD,
    CACHE_WRITE_SPLIT,
    ERROR_TYPE_OF_STATUS,
    NATIVE_FIELDS,
    STOP_REASON,
    effort_for_budget,
)
from unigate.providers.registry import capabilities
from unigate.types import ChatChunk, ChatRequest, ChatResponse, ThinkingBlock, ToolCallDelta, Usage, as_chat_request

Event = tuple[str, dict[str, Any]]


def _fail(message: str, param: str | None = None) -> BadRequest:
    return BadRequest(message, param=param, code="invalid_request_error")


def new_message_id() -> str:
    return f"msg_{getrandbits(96):024x}"


# ---------------------------------------------------------------------------------------------
# Request: Anthropic → OpenAI


def _media_url(source: dict[str, Any]) -> str:
    kind = source.get("type")
    if kind == "base64":
        return f"data:{source.get('media_type') or 'application/octet-stream'};base64,{source.get('data', '')}"
    if kind == "url" and isinstance(source.get("url"), str):
        return str(source["url"])
    raise _fail(f"unsupported media source type {kind!r}", "messages")


def _part(block: dict[str, Any]) -> dict[str, Any] | None:
    """One user-side content block → an OpenAI content part (None: carries nothing)."""
    kind = block.get("type")
    part: dict[str, Any]
    if kind == "text":
        part = {"type": "text", "text": block.get("text", "")}
    elif kind == "image":
        part = {"type": "image_url", "image_url": {"url": _media_url(block.get("source") or {})}}
    elif kind == "document":
        source = block.get("source") or {}
        if source.get("type") == "text":
            part = {"type": "text", "text": source.get("data", "")}
        elif source.get("type") == "content":
            texts = [b.get("text", "") for b in source.get("content") or () if b.get("type") == "text"]
            part = {"type": "text", "text": "\n".join(texts)}
        else:
            file: dict[str, Any] = {"file_data": _media_url(source)}
            if block.get("title"):
                file["filename"] = block["title"]
            part = {"type": "file", "file": file}
    else:
        raise _fail(f"unsupported content block type {kind!r}", "messages")
    if block.get("cache_control"):
        part["cache_control"] = block["cache_control"]
    return part


def _parts(content: Any, marks: bool) -> Any:
    """Block list → a string when it is plain text, else OpenAI parts."""
    if isinstance(content, str):
        return content
    parts = [p for b in content or () if (p := _part(b)) is not None]
    if not marks or not any("cache_control" in p for p in parts):
        for p in parts:
            p.pop("cache_control", None)
        if all(p["type"] == "text" for p in parts) and len(parts) == 1:
            return parts[0]["text"]
    return parts


def _tool_result(block: dict[str, Any], native: bool, marks: bool) -> dict[str, Any]:
    content = block.get("content")
    result: Any = "" if content is None else _parts(content, marks)
    message: dict[str, Any] = {"role": "tool", "tool_call_id": block.get("tool_use_id"), "content": result}
    if block.get("is_error") and isinstance(result, str) and not native:
        message["content"] = f"Error: {result}"
    return message


def _user_messages(content: Any, native: bool, marks: bool) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"role": "user", "content": content}]
    messages: list[dict[str, Any]] = []
    rest: list[dict[str, Any]] = []
    for block in content or ():
        if not isinstance(block, dict):
            raise _fail("content blocks must be objects", "messages")
        if block.get("type") == "tool_result":
            messages.append(_tool_result(block, native, marks))
        else:
            rest.append(block)
    if rest or not messages:
        messages.append({"role": "user", "content": _parts(rest, marks)})
    return messages


def _assistant_message(content: Any, keep_thinking: bool) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": None}
    if isinstance(content, str):
        message["content"] = content
        return message
    texts: list[str] = []
    calls: list[dict[str, Any]] = []
    thinking: list[dict[str, Any]] = []
    for block in content or ():
        kind = block.get("type")
        if kind == "text":
            texts.append(block.get("text", ""))
        elif kind == "tool_use":
            arguments = orjson.dumps(block.get("input") or {}).decode()
            calls.append(
                {
                    "id": block.get("id"),
                    "type": "function",
                    "function": {"name": block.get("name"), "arguments": arguments},
                }
            )
        elif kind == "thinking":
            thinking.append(
                {"type": "thinking", "thinking": block.get("thinking", ""), "signature": block.get("signature", "")}
            )
        elif kind == "redacted_thinking":
            thinking.append({"type": "redacted_thinking", "data": block.get("data", "")})
        else:
            raise _fail(f"unsupported assistant content block type {kind!r}", "messages")
    if len(texts) == 1:
        message["content"] = texts[0]
    elif texts:  # separate blocks stay separate (they go back upstream as they came)
        message["content"] = [{"type": "text", "text": t} for t in texts]
    if calls:
        message["tool_calls"] = calls
    if thinking and keep_thinking:
        message["thinking_blocks"] = thinking
        reasoning = "".join(b.get("thinking", "") for b in thinking)
        if reasoning:
            message["reasoning_content"] = reasoning
    return message


def _tool(tool: dict[str, Any]) -> dict[str, Any]:
    if tool.get("type") not in (None, "custom") or "input_schema" not in tool:
        return dict(tool)  # an Anthropic server tool (web_search_…, bash_…): only Anthropic runs it
    function: dict[str, Any] = {"name": tool.get("name"), "parameters": tool.get("input_schema")}
    if tool.get("description") is not None:
        function["description"] = tool["description"]
    if tool.get("strict") is not None:
        function["strict"] = tool["strict"]
    openai_tool: dict[str, Any] = {"type": "function", "function": function}
    if tool.get("cache_control"):
        openai_tool["cache_control"] = tool["cache_control"]
    return openai_tool


def _tool_choice(choice: dict[str, Any]) -> tuple[Any, bool | None]:
    kind = choice.get("type")
    parallel = False if choice.get("disable_parallel_tool_use") else None
    if kind == "auto":
        return "auto", parallel
    if kind == "any":
        return "required", parallel
    if kind == "none":
        return "none", None
    if kind == "tool":
        return {"type": "function", "function": {"name": choice.get("name")}}, parallel
    raise _fail(f"unsupported tool_choice type {kind!r}", "tool_choice")


def _validate(body: dict[str, Any]) -> None:
    if not isinstance(body.get("model"), str) or not body["model"]:
        raise _fail("model: Field required", "model")
    messages = body.get("messages")
    if not isinstance(messages, list):
        raise _fail("messages: Field required", "messages")
    for i, message in enumerate(messages):
        # "system" turns mid-conversation: the mid-conversation-system beta Claude Code uses
        if not isinstance(message, dict) or message.get("role") not in ("user", "assistant", "system"):
            raise _fail(f"messages.{i}.role: Input should be 'user', 'assistant' or 'system'", f"messages.{i}.role")
        content = message.get("content")
        if not isinstance(content, str | list):
            raise _fail(f"messages.{i}.content: Field required", f"messages.{i}.content")


def to_openai(
    body: dict[str, Any], providers: frozenset[str] = frozenset(), *, count_only: bool = False
) -> ChatRequest:
    """An Anthropic ``/v1/messages`` body → an OpenAI ``/v1/chat/completions`` body.

    ``providers``: the providers that may serve the model. Served by Anthropic only, the
    Anthropic-only fields pass through; served by Anthropic / Bedrock only, signed thinking in the
    history is kept (other upstreams reject or ignore foreign thinking, so it is dropped).
    ``count_only``: for count_tokens (``max_tokens`` is not required there)."""
    _validate(body)
    flags = [capabilities(p) for p in providers]
    native = bool(flags) and all(f.anthropic_fields for f in flags)
    # cache_control marks: Anthropic takes them as they are, Bedrock as cache points
    marks = bool(flags) and all(f.cache_marks for f in flags)
    keep_thinking = bool(flags) and all(f.signed_thinking for f in flags)
    max_tokens = body.get("max_tokens")
    if not count_only and (isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1):
        raise _fail("max_tokens: Field required (a positive integer)", "max_tokens")
    messages: list[dict[str, Any]] = []
    system = body.get("system")
    if system:
        messages.append({"role": "system", "content": _parts(system, marks)})
    for message in body["messages"]:
        if message["role"] == "user":
            messages.extend(_user_messages(message["content"], native, marks))
        elif message["role"] == "system":
            messages.append({"role": "system", "content": _parts(message["content"], marks)})
        else:
            messages.append(_assistant_message(message["content"], keep_thinking))
    request: dict[str, Any] = {"model": body["model"], "messages": messages}
    if max_tokens is not None:
        request["max_tokens"] = max_tokens
    for name in ("temperature", "top_p"):
        if body.get(name) is not None:
            request[name] = body[name]
    if body.get("stop_sequences"):
        request["stop"] = list(body["stop_sequences"])
    tools = body.get("tools")
    if tools:
        request["tools"] = [_tool(t) for t in tools]
    choice = body.get("tool_choice")
    if isinstance(choice, dict) and (tools or choice.get("type") == "none"):
        request["tool_choice"], parallel = _tool_choice(choice)
        if parallel is False:
            request["parallel_tool_calls"] = False
    user_id = (body.get("metadata") or {}).get("user_id")
    if user_id:
        request["user"] = user_id
    thinking = body.get("thinking")
    if native:
        for name in NATIVE_FIELDS:
            if body.get(name) is not None:
                request[name] = body[name]
    elif isinstance(thinking, dict) and thinking.get("type") == "enabled":
        request["reasoning_effort"] = effort_for_budget(int(thinking.get("budget_tokens") or 0))
    elif isinstance(thinking, dict) and thinking.get("type") == "adaptive":
        request["reasoning_effort"] = "medium"
    if body.get("stream") and not count_only:
        request["stream"] = True
        request["stream_options"] = {"include_usage": True}
    return as_chat_request(request)


# ---------------------------------------------------------------------------------------------
# Response: OpenAI → Anthropic


def stop_reason(finish_reason: str | None) -> str | None:
    if finish_reason is None:
        return None
    return STOP_REASON.get(finish_reason, "end_turn")


def usage_to_anthropic(usage: Usage | None) -> dict[str, Any]:
    usage = usage or {}
    details = usage.get("prompt_tokens_details") or {}
    cache_read = int(details.get("cached_tokens") or 0)
    cache_write = int(details.get("cache_creation_tokens") or 0)
    prompt = int(usage.get("prompt_tokens") or 0)
    native: dict[str, Any] = {
        "input_tokens": max(0, prompt - cache_read - cache_write),
        CACHE_WRITE_FIELD: cache_write,
        CACHE_READ_FIELD: cache_read,
        "output_tokens": int(usage.get("completion_tokens") or 0),
    }
    split = {name: int(details.get(canonical) or 0) for name, canonical in CACHE_WRITE_SPLIT.items()}  # type: ignore[call-overload]
    if any(split.values()):
        native["cache_creation"] = split
    return native


def _tool_input(arguments: Any) -> Any:
    if isinstance(arguments, dict):
        return arguments
    if not arguments:
        return {}
    try:
        value = orjson.loads(arguments)
    except orjson.JSONDecodeError:
        return {"_raw_arguments": arguments}  # keep what the model said rather than dropping it
    return value if isinstance(value, dict) else {"value": value}


def _thinking_out(block: ThinkingBlock) -> dict[str, Any]:
    if block.get("type") == "redacted_thinking":
        return {"type": "redacted_thinking", "data": block.get("data", "")}
    return {"type": "thinking", "thinking": block.get("thinking", ""), "signature": block.get("signature", "")}


def count_tokens_reply(tokens: int) -> dict[str, Any]:
    """The ``/v1/messages/count_tokens`` answer."""
    return {"input_tokens": tokens}


def message_id(openai_id: Any) -> str:
    return openai_id if isinstance(openai_id, str) and openai_id.startswith("msg_") else new_message_id()


def to_anthropic(response: ChatResponse, model: str) -> dict[str, Any]:
    """A ``chat.completion`` → an Anthropic ``message``."""
    choices = response.get("choices") or [{}]
    choice = choices[0]
    message = choice.get("message") or {}
    content: list[dict[str, Any]] = []
    blocks = message.get("thinking_blocks")
    if blocks:
        content.extend(_thinking_out(b) for b in blocks if isinstance(b, dict))
    elif message.get("reasoning_content"):
        content.append({"type": "thinking", "thinking": message["reasoning_content"], "signature": ""})
    text = message.get("content")
    if isinstance(text, list):  # some upstreams answer with parts
        text = "".join(p.get("text", "") for p in text if isinstance(p, dict))
    if text:
        content.append({"type": "text", "text": text})
    if not text and message.get("refusal"):
        content.append({"type": "text", "text": message["refusal"]})
    for call in message.get("tool_calls") or ():
        function = call.get("function") or {}
        content.append(
            {
                "type": "tool_use",
                "id": call.get("id") or f"toolu_{getrandbits(96):024x}",
                "name": function.get("name"),
                "input": _tool_input(function.get("arguments")),
            }
        )
    return {
        "id": message_id(response.get("id")),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop_reason(choice.get("finish_reason")) or "end_turn",
        "stop_sequence": None,
        "usage": usage_to_anthropic(response.get("usage")),
    }


@dataclass
class StreamTranslator:
    """OpenAI ``chat.completion.chunk`` dicts → Anthropic SSE events ``(name, data)``.

    Blocks open in the order content arrives (thinking, text, one per tool call) and each is
    stopped before the next opens; OpenAI tool-call ``index`` → the block's Anthropic index.
    ``finish()`` closes the message (stop reason and usage arrive in the last chunks)."""

    model: str
    id: str = ""
    started: bool = False
    next_index: int = 0
    open_kind: str | None = None  # "thinking" | "text" | "tool_use"
    open_index: int = -1
    tool_blocks: dict[int, int] = field(default_factory=dict)  # OpenAI tool index → block index
    finish_reason: str | None = None
    usage: Usage | None = None
    finished: bool = False

    def _start_message(self, chunk: ChatChunk) -> list[Event]:
        self.started = True
        self.id = self.id or message_id(chunk.get("id"))
        message: dict[str, Any] = {
            "id": self.id,
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": 0, "output_tokens": 0},
        }
        return [("message_start", {"type": "message_start", "message": message}), ("ping", {"type": "ping"})]

    def _close(self) -> list[Event]:
        if self.open_kind is None:
            return []
        index, self.open_kind, self.open_index = self.open_index, None, -1
        return [("content_block_stop", {"type": "content_block_stop", "index": index})]

    def _open(self, kind: str, block: dict[str, Any]) -> list[Event]:
        events = self._close()
        self.open_kind, self.open_index = kind, self.next_index
        self.next_index += 1
        events.append(
            ("content_block_start", {"type": "content_block_start", "index": self.open_index, "content_block": block})
        )
        return events

    def _delta(self, index: int, delta: dict[str, Any]) -> Event:
        return ("content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta})

    def _thinking(self, text: str) -> list[Event]:
        events: list[Event] = []
        if self.open_kind != "thinking":
            events += self._open("thinking", {"type": "thinking", "thinking": "", "signature": ""})
        events.append(self._delta(self.open_index, {"type": "thinking_delta", "thinking": text}))
        return events

    def _thinking_block(self, block: ThinkingBlock) -> list[Event]:
        """A whole thinking block (carrying the signature) or a redacted one, from ``thinking_blocks``."""
        if block.get("type") == "redacted_thinking":
            events = self._open("redacted_thinking", {"type": "redacted_thinking", "data": block.get("data", "")})
            return events + self._close()
        events = []
        if self.open_kind != "thinking":  # the text never streamed as reasoning_content deltas
            events += self._thinking(block.get("thinking", "")) if block.get("thinking") else []
            if self.open_kind != "thinking":
                events += self._open("thinking", {"type": "thinking", "thinking": "", "signature": ""})
        if block.get("signature"):
            events.append(self._delta(self.open_index, {"type": "signature_delta", "signature": block["signature"]}))
        return events

    def _text(self, text: str) -> list[Event]:
        events: list[Event] = []
        if self.open_kind != "text":
            events += self._open("text", {"type": "text", "text": ""})
        events.append(self._delta(self.open_index, {"type": "text_delta", "text": text}))
        return events

    def _tool_call(self, call: ToolCallDelta) -> list[Event]:
        position = int(call.get("index") or 0)
        function = call.get("function") or {}
        events: list[Event] = []
        block_index = self.tool_blocks.get(position)
        if block_index is None:
            block: dict[str, Any] = {
                "type": "tool_use",
                "id": call.get("id") or f"toolu_{getrandbits(96):024x}",
                "name": function.get("name") or "",
                "input": {},
            }
            events += self._open("tool_use", block)
            block_index = self.tool_blocks[position] = self.open_index
        arguments = function.get("arguments")
        if arguments:
            events.append(self._delta(block_index, {"type": "input_json_delta", "partial_json": arguments}))
        return events

    def feed(self, chunk: ChatChunk) -> list[Event]:
        events: list[Event] = [] if self.started else self._start_message(chunk)
        if chunk.get("usage"):
            self.usage = chunk["usage"]
        for choice in chunk.get("choices") or ():
            if choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta") or {}
            reasoning = delta.get("reasoning_content")
            if reasoning:
                events += self._thinking(reasoning)
            for block in delta.get("thinking_blocks") or ():
                events += self._thinking_block(block)
            text = delta.get("content")
            if text:
                events += self._text(text)
            for call in delta.get("tool_calls") or ():
                events += self._tool_call(call)
            if choice.get("finish_reason"):
                self.finish_reason = choice["finish_reason"]
        return events

    def finish(self) -> list[Event]:
        """The closing events: last block stop, ``message_delta`` (stop reason, usage), ``message_stop``."""
        if self.finished:
            return []
        self.finished = True
        events = [] if self.started else self._start_message({})
        events += self._close()
        usage = usage_to_anthropic(self.usage)
        delta = {"stop_reason": stop_reason(self.finish_reason) or "end_turn", "stop_sequence": None}
        events.append(("message_delta", {"type": "message_delta", "delta": delta, "usage": usage}))
        events.append(("message_stop", {"type": "message_stop"}))
        return events


# ---------------------------------------------------------------------------------------------
# Errors

# Gateway error class → (Anthropic error type, HTTP status), most specific first.
_ERRORS: tuple[tuple[type[GatewayError], str, int | None], ...] = (
    (PayloadTooLarge, "request_too_large", 413),
    (AuthError, "authentication_error", None),
    (PermissionDenied, "permission_error", None),
    (NotFound, "not_found_error", None),
    (RateLimited, "rate_limit_error", None),
    (UpstreamRateLimited, "rate_limit_error", None),
    (BudgetExceeded, "billing_error", None),
    (Overloaded, "overloaded_error", 529),
    (UpstreamTimeout, "timeout_error", None),
    (BadRequest, "invalid_request_error", None),
)


def error_payload(error: GatewayError) -> tuple[int, dict[str, Any]]:
    """A gateway error → (HTTP status, Anthropic error body)."""
    status = error.http_status
    kind: str | None = None
    for cls, name, fixed in _ERRORS:
        if isinstance(error, cls):
            kind, status = name, fixed or status
            break
    if kind is None:
        kind = ERROR_TYPE_OF_STATUS.get(status) or ("invalid_request_error" if 400 <= status < 500 else "api_error")
    return status, {"type": "error", "error": {"type": kind, "message": error.message}}
