"""The canonical request → a Cohere v2 chat call (``POST /v2/chat``).

Mapping: v2 messages are close to OpenAI's. System/developer → ``system``; user content
stays a string or becomes text / image_url parts; assistant ``tool_calls`` keep the OpenAI shape
and their accompanying text goes to ``tool_plan`` (Cohere's place for the words before a tool
call); assistant ``reasoning_content`` goes back as a ``thinking`` content item; tool messages
keep ``tool_call_id``. Tools keep the OpenAI function shape (any ``strict`` → ``strict_tools``);
``tool_choice`` required/none → ``REQUIRED``/``NONE`` (a named function narrows ``tools`` to that
one and requires it: Cohere cannot name a tool); top_p/top_k → p/k; stop → stop_sequences;
response_format → ``{"type": "json_object"[, "json_schema"]}``; ``reasoning_effort: none`` →
``thinking: {type: disabled}``, other efforts → enabled with a token budget; a native
``thinking`` field is passed through.
"""

from __future__ import annotations

from typing import Any

import orjson

from unigate.errors import BadRequest
from unigate.providers.shell import Call, join_url
from unigate.types import ChatMessage, ChatRequest, Deployment, as_json

DEFAULT_API_BASE = "https://api.cohere.com"

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


def rerank_call(request: dict[str, Any], deployment: Deployment) -> Call:
    """Cohere's ``POST /v2/rerank``."""
    from unigate.providers.media import rerank_documents

    base = (deployment.api_base or DEFAULT_API_BASE).rstrip("/")
    body: dict[str, Any] = {
        "model": deployment.model,
        "query": request["query"],
        "documents": rerank_documents(request),
    }
    if request.get("top_n") is not None:
        body["top_n"] = request["top_n"]
    url = join_url(base, "rerank" if base.endswith("/v2") else "v2/rerank")
    return Call(url, orjson.dumps(body), native_headers(deployment))


def build_call(request: ChatRequest, deployment: Deployment, stream: bool) -> Call:
    body = orjson.dumps(to_native(request, deployment, stream=stream))
    headers = native_headers(deployment)
    if stream:
        headers["accept"] = "text/event-stream"
    return Call(chat_url(deployment), body, headers)
