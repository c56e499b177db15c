"""Cohere v2 chat (``POST /v2/chat``) ↔ the canonical OpenAI chat schema.

Pure translation first (``to_native``, ``from_native``, ``StreamTranslator``, ``parse_error``),
then the small :class:`CohereProvider` doing the I/O.

Request mapping: v2 messages are close to OpenAI's. System/developer → ``system``; user content
stays a string or becomes text / image_url parts; assistant ``tool_calls`` keep the OpenAI shape
and their accompanying text goes to ``tool_plan`` (Cohere's place for the words before a tool
call); assistant ``reasoning_content`` goes back as a ``thinking`` content item; tool messages
keep ``tool_call_id``. Tools keep the OpenAI function shape (any ``strict`` → ``strict_tools``);
``tool_choice`` required/none → ``REQUIRED``/``NONE`` (a named function narrows ``tools`` to that
one and requires it: Cohere cannot name a tool); top_p/top_k → p/k; stop → stop_sequences;
response_format → ``{"type": "json_object"[, "json_schema"]}``; ``reasoning_effort: none`` →
``thinking: {type: disabled}``, other efforts → enabled with a token budget; a native
``thinking`` field is passed through.

Response mapping: text items → ``content``, thinking items → ``reasoning_content``, tool calls →
``tool_calls``, ``tool_plan`` → ``content`` when there is no other text. Usage is taken from
``usage.billed_units`` (what Cohere charges; ``usage.tokens`` also counts Cohere's own hidden
prompt) and falls back to ``usage.tokens``. ``finish_reason``: COMPLETE/STOP_SEQUENCE → stop,
MAX_TOKENS/TIMEOUT → length, TOOL_CALL → tool_calls; ERROR raises UpstreamServerError.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson

from unigate.errors import (
    BadRequest,
    ContextWindowExceeded,
    ProviderError,
    UpstreamConnectionError,
    UpstreamServerError,
    classify_http_status,
    parse_retry_after,
)
from unigate.providers._http import iter_sse, join_url, open_stream, post_json
from unigate.providers.base import ProviderContext
from unigate.types import (
    ChatChunk,
    ChatMessage,
    ChatRequest,
    ChatResponse,
    Delta,
    Deployment,
    ToolCall,
    ToolCallDelta,
    Usage,
    as_json,
    make_chunk,
    make_response,
    new_completion_id,
    now,
)

PROVIDER = "cohere"
DEFAULT_API_BASE = "https://api.cohere.com"

_FINISH = {
    "COMPLETE": "stop",
    "STOP_SEQUENCE": "stop",
    "MAX_TOKENS": "length",
    "TIMEOUT": "length",
    "TOOL_CALL": "tool_calls",
}
_THINKING_BUDGETS = {"minimal": 1024, "low": 1024, "medium": 4096, "high": 16384, "xhigh": 32768}

# OpenAI field → Cohere v2 field, for parameters that need only a rename.
_RENAMED = {
    "temperature": "temperature",
    "top_p": "p",
    "top_k": "k",
    "seed": "seed",
    "frequency_penalty": "frequency_penalty",
    "presence_penalty": "presence_penalty",
    "logprobs": "logprobs",
}


# ---------------------------------------------------------------------------------------------
# Request


def _content(content: Any) -> Any:
    """OpenAI content → Cohere content: strings stay strings; parts keep text and image_url."""
    if content is None or isinstance(content, str):
        return content or ""
    parts: list[dict[str, Any]] = []
    for part in content:
        kind = part.get("type")
        if kind == "text":
            parts.append({"type": "text", "text": part.get("text", "")})
        elif kind == "image_url":
            image = part.get("image_url")
            parts.append({"type": "image_url", "image_url": image if isinstance(image, dict) else {"url": image}})
        elif kind == "refusal":
            parts.append({"type": "text", "text": part.get("refusal", "")})
        else:
            raise BadRequest(f"Cohere does not accept {kind!r} content parts", param="messages")
    return parts


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    return "".join(p.get("text", "") for p in content or () if p.get("type") == "text")


def _message(message: ChatMessage) -> dict[str, Any]:
    role = message.get("role")
    if role in ("system", "developer"):
        return {"role": "system", "content": _content(message.get("content"))}
    if role == "user":
        return {"role": "user", "content": _content(message.get("content"))}
    if role == "tool":
        return {
            "role": "tool",
            "tool_call_id": message.get("tool_call_id"),
            "content": _content(message.get("content")),
        }
    if role != "assistant":
        raise BadRequest(f"unsupported message role {role!r} for Cohere", param="messages")
    native: dict[str, Any] = {"role": "assistant"}
    text = _text_of(message.get("content"))
    tool_calls = message.get("tool_calls")
    if tool_calls:
        native["tool_calls"] = [
            {
                "id": call.get("id"),
                "type": "function",
                "function": {
                    "name": (call.get("function") or {}).get("name"),
                    "arguments": (call.get("function") or {}).get("arguments") or "{}",
                },
            }
            for call in tool_calls
        ]
        if text:
            native["tool_plan"] = text
        return native
    reasoning = message.get("reasoning_content")
    if reasoning:
        items: list[dict[str, Any]] = [{"type": "thinking", "thinking": reasoning}]
        if text:
            items.append({"type": "text", "text": text})
        native["content"] = items
    else:
        native["content"] = text
    return native


def _tools(request: ChatRequest) -> tuple[list[dict[str, Any]], str | None]:
    tools = [t for t in request.get("tools") or () if t.get("type", "function") == "function"]
    choice = request.get("tool_choice")
    native_choice: str | None = None
    if choice == "required":
        native_choice = "REQUIRED"
    elif choice == "none":
        native_choice = "NONE"
    elif isinstance(choice, dict) and choice.get("type") == "function":
        wanted = (choice.get("function") or {}).get("name")
        tools = [t for t in tools if (t.get("function") or {}).get("name") == wanted]
        if not tools:
            raise BadRequest(f"tool_choice names unknown function {wanted!r}", param="tool_choice")
        native_choice = "REQUIRED"
    native_tools = []
    for tool in tools:
        function = tool.get("function") or {}
        native_fn: dict[str, Any] = {"name": function.get("name")}
        if function.get("description") is not None:
            native_fn["description"] = function["description"]
        native_fn["parameters"] = function.get("parameters") or {"type": "object", "properties": {}}
        native_tools.append({"type": "function", "function": native_fn})
    return native_tools, native_choice


def to_native(request: ChatRequest, deployment: Deployment, stream: bool | None = None) -> dict[str, Any]:
    """The ``/v2/chat`` body for an OpenAI-format request."""
    if (request.get("n") or 1) > 1:
        raise BadRequest("Cohere returns one choice per request (n must be 1)", param="n")
    body: dict[str, Any] = {
        "model": deployment.model,
        "messages": [_message(m) for m in request.get("messages") or ()],
    }
    tools, tool_choice = _tools(request)
    if tools:
        body["tools"] = tools
        if any((t.get("function") or {}).get("strict") for t in request.get("tools") or ()):
            body["strict_tools"] = True
        if tool_choice:
            body["tool_choice"] = tool_choice
    fields = as_json(request)
    for name, native_name in _RENAMED.items():
        if fields.get(name) is not None:
            body[native_name] = fields[name]
    max_tokens = request.get("max_completion_tokens") or request.get("max_tokens")
    if max_tokens:
        body["max_tokens"] = int(max_tokens)
    stop = request.get("stop")
    if stop:
        body["stop_sequences"] = [stop] if isinstance(stop, str) else list(stop)
    response_format = request.get("response_format") or {}
    if response_format.get("type") == "json_object":
        body["response_format"] = {"type": "json_object"}
    elif response_format.get("type") == "json_schema":
        schema = (response_format.get("json_schema") or {}).get("schema")
        body["response_format"] = {"type": "json_object", **({"json_schema": schema} if schema else {})}
    if request.get("thinking") is not None:
        body["thinking"] = request["thinking"]
    elif effort := request.get("reasoning_effort"):
        if effort == "none":
            body["thinking"] = {"type": "disabled"}
        else:
            body["thinking"] = {"type": "enabled", "token_budget": _THINKING_BUDGETS.get(effort, 4096)}
    body["stream"] = bool(request.get("stream")) if stream is None else stream
    return body


def native_headers(deployment: Deployment) -> dict[str, str]:
    headers = {"content-type": "application/json", "accept": "application/json"}
    if deployment.api_key:
        headers["authorization"] = "Bearer " + deployment.api_key
    headers.update(deployment.headers)
    return headers


def chat_url(deployment: Deployment) -> str:
    base = (deployment.api_base or DEFAULT_API_BASE).rstrip("/")
    return join_url(base, "chat" if base.endswith("/v2") else "v2/chat")


# ---------------------------------------------------------------------------------------------
# Response


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


def _tool_call(call: dict[str, Any]) -> ToolCall:
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
    tool_calls = [_tool_call(c) for c in native.get("tool_calls") or ()]
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


class StreamTranslator:
    """Cohere v2 stream events → OpenAI ``chat.completion.chunk`` dicts, one event at a time.

    Tool calls get the OpenAI ``index`` in the order they start. ``tool-plan-delta`` text is
    streamed as content, matching what ``from_native`` does with ``tool_plan``.
    """

    def __init__(self, public_model: str) -> None:
        self.model = public_model
        self.id = new_completion_id()
        self.created = now()
        self.tools = 0
        self.tool_index: dict[int, int] = {}  # Cohere event index → OpenAI tool-call index
        self.tool_has_arguments: dict[int, bool] = {}
        self.finish: str | None = None
        self.done = False

    def _chunk(self, delta: Delta | None, finish: str | None = None, usage: Usage | None = None) -> ChatChunk:
        return make_chunk(self.id, self.model, delta, finish, created=self.created, usage=usage)

    def feed(self, event: str | None, data: bytes | dict[str, Any]) -> list[ChatChunk]:
        if isinstance(data, bytes) and data.strip() in (b"", b"[DONE]"):
            return []
        payload = orjson.loads(data) if isinstance(data, bytes | str) else data
        kind = payload.get("type") or event
        delta = payload.get("delta") or {}
        message = delta.get("message") or {}
        if kind == "message-start":
            self.id = payload.get("id") or self.id
            return [self._chunk({"role": "assistant", "content": ""})]
        if kind in ("content-start", "content-delta"):
            content = message.get("content") or {}
            if content.get("thinking"):
                return [self._chunk({"reasoning_content": content["thinking"]})]
            if content.get("text"):
                return [self._chunk({"content": content["text"]})]
            return []
        if kind == "tool-plan-delta":
            return [self._chunk({"content": message["tool_plan"]})] if message.get("tool_plan") else []
        if kind == "tool-call-start":
            return self._tool_start(int(payload.get("index", 0)), message.get("tool_calls") or {})
        if kind == "tool-call-delta":
            return self._tool_delta(int(payload.get("index", 0)), message.get("tool_calls") or {})
        if kind == "tool-call-end":
            index = int(payload.get("index", 0))
            if index in self.tool_index and not self.tool_has_arguments.get(index):
                call: ToolCallDelta = {"index": self.tool_index[index], "function": {"arguments": "{}"}}
                return [self._chunk({"tool_calls": [call]})]
            return []
        if kind == "message-end":
            self.done = True
            self.finish = finish_reason(delta.get("finish_reason") or "COMPLETE", delta.get("error"), data)
            return [
                self._chunk({}, self.finish),
                self._chunk(None, usage=usage_from_native(delta.get("usage"))),
            ]
        return []  # content-end, citation-*, debug and event types added later

    def _tool_start(self, index: int, call: dict[str, Any]) -> list[ChatChunk]:
        self.tool_index[index] = self.tools
        self.tools += 1
        function = call.get("function") or {}
        arguments = function.get("arguments") or ""
        self.tool_has_arguments[index] = bool(arguments)
        start: ToolCallDelta = {
            "index": self.tool_index[index],
            "id": call.get("id") or "",
            "type": "function",
            "function": {"name": function.get("name") or "", "arguments": arguments},
        }
        return [self._chunk({"tool_calls": [start]})]

    def _tool_delta(self, index: int, call: dict[str, Any]) -> list[ChatChunk]:
        arguments = (call.get("function") or {}).get("arguments")
        if not arguments or index not in self.tool_index:
            return []
        self.tool_has_arguments[index] = True
        return [self._chunk({"tool_calls": [{"index": self.tool_index[index], "function": {"arguments": arguments}}]})]

    def close(self) -> list[ChatChunk]:
        if not self.done:
            raise UpstreamConnectionError("cohere: stream ended before message-end", provider=PROVIDER)
        return []


# ---------------------------------------------------------------------------------------------
# Errors

_CONTEXT_MARKERS = (
    "too many tokens",
    "prompt is too long",
    "context length",
    "context window",
    "maximum context",
)


def parse_error(status: int, raw: bytes, headers: Any = None) -> ProviderError:
    """A non-2xx ``/v2/chat`` reply (``{"message": ...}``) → the error tree."""
    try:
        body = orjson.loads(raw) if raw else {}
        message = str(body.get("message") or body.get("error") or "") if isinstance(body, dict) else str(body)
    except orjson.JSONDecodeError:
        message = raw[:500].decode(errors="replace")
    message = message or f"upstream returned HTTP {status}"
    text = f"{PROVIDER}: {message}"
    if status in (400, 422) and any(marker in message.lower() for marker in _CONTEXT_MARKERS):
        return ContextWindowExceeded(text, provider=PROVIDER, status=status, raw=raw)
    # 498 is Cohere's "invalid token" (a bad upstream key): the same class as a 401.
    status = 401 if status == 498 else status
    return classify_http_status(status, text, provider=PROVIDER, raw=raw, retry_after=parse_retry_after(headers))


# ---------------------------------------------------------------------------------------------
# I/O


class CohereProvider:
    name = PROVIDER

    def __init__(self, context: ProviderContext) -> None:
        self.http = context.http

    async def chat(self, request: ChatRequest, deployment: Deployment) -> ChatResponse:
        body = orjson.dumps(to_native(request, deployment, stream=False))
        reply = await post_json(
            self.http,
            chat_url(deployment),
            body,
            native_headers(deployment),
            deployment.timeouts,
            self.name,
            parse_error,
        )
        return from_native(reply, deployment.public_name)

    async def rerank(self, request: dict[str, Any], deployment: Deployment) -> dict[str, Any]:
        """Cohere's ``POST /v2/rerank``; documents go back from the request when asked for."""
        from unigate.providers.media import rerank_documents, rerank_reply

        base = (deployment.api_base or DEFAULT_API_BASE).rstrip("/")
        url = join_url(base, "rerank" if base.endswith("/v2") else "v2/rerank")
        body: dict[str, Any] = {
            "model": deployment.model,
            "query": request["query"],
            "documents": rerank_documents(request),
        }
        if request.get("top_n") is not None:
            body["top_n"] = request["top_n"]
        reply = await post_json(
            self.http, url, orjson.dumps(body), native_headers(deployment), deployment.timeouts, self.name, parse_error
        )
        answer = rerank_reply(reply.get("results") or [], request, deployment.public_name)
        units = ((reply.get("meta") or {}).get("billed_units") or {}).get("search_units")
        if units:
            answer["meta"]["billed_units"]["search_units"] = int(units)
        return answer

    async def chat_stream(self, request: ChatRequest, deployment: Deployment) -> AsyncIterator[ChatChunk]:
        body = orjson.dumps(to_native(request, deployment, stream=True))
        headers = native_headers(deployment) | {"accept": "text/event-stream"}
        translator = StreamTranslator(deployment.public_name)
        async with open_stream(
            self.http, chat_url(deployment), body, headers, deployment.timeouts, self.name, parse_error
        ) as resp:
            async for event, data in iter_sse(resp, self.name):
                try:
                    chunks = translator.feed(event, data)
                except orjson.JSONDecodeError as exc:
                    raise ProviderError(
                        "cohere: malformed stream event", provider=self.name, status=502, raw=data[:2000]
                    ) from exc
                for chunk in chunks:
                    yield chunk
                if translator.done:
                    return
        translator.close()
