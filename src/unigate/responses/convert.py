"""A Responses API request → the canonical chat request (pure, no I/O).

The one translation every provider without a native Responses API is reached through:

- ``instructions`` → a leading ``system`` message.
- ``input``: a string → one user message; items →
  messages (``input_text`` / ``output_text`` → text parts, ``input_image`` → ``image_url``,
  ``input_file`` → ``file``; ``cache_control`` marks on parts are kept), ``function_call`` →
  ``tool_calls`` on an assistant message (consecutive calls join one message),
  ``function_call_output`` → a ``tool`` message, ``reasoning`` → ``reasoning_content`` (and the
  signed thinking blocks this gateway packed into ``encrypted_content``) on the next assistant turn.
- function ``tools`` → chat tools; ``tool_choice``; ``parallel_tool_calls``;
  ``text.format`` → ``response_format``; ``reasoning.effort`` → ``reasoning_effort``;
  ``max_output_tokens`` → ``max_tokens``; ``temperature``, ``top_p``, ``user``; ``stream`` (with
  usage always requested, so the stream can be accounted for).

Tools a client groups in a ``namespace`` become chat functions named ``<namespace>__<name>``;
``custom`` (free-form input) tools become functions taking one string, ``input``. A
:class:`ToolNames` remembers which is which, so the answer's calls come back as the client's own
``function_call`` (with its ``namespace``) or ``custom_tool_call`` items.

Hosted tools (web search, file search, code interpreter, computer use, …) have no chat form:
:func:`hosted_tools` names them so the surface can refuse them where no upstream runs them.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

import orjson

from unigate.errors import BadRequest

THINKING_PREFIX = "unigate.thinking:"  # encrypted_content this gateway wrote: signed thinking blocks
NAMESPACE_SEPARATOR = "__"
_MESSAGE_ROLES = frozenset({"user", "assistant", "system", "developer"})
_TRANSLATED_TOOLS = frozenset({"function", "namespace", "custom"})
_CUSTOM_PARAMETERS = {
    "type": "object",
    "properties": {"input": {"type": "string", "description": "the tool's whole input, as free-form text"}},
    "required": ["input"],
}


@dataclass(frozen=True, slots=True)
class ToolRef:
    name: str
    namespace: str | None = None
    custom: bool = False


ToolNames = dict[str, ToolRef]  # chat function name → the client's tool


def chat_name(name: str, namespace: str | None) -> str:
    return f"{namespace}{NAMESPACE_SEPARATOR}{name}" if namespace else name


def _fail(message: str, param: str) -> BadRequest:
    return BadRequest(message, param=param, code="invalid_value")


def hosted_tools(body: dict[str, Any]) -> list[str]:
    """The types of tools in the request that only a Responses API upstream can run."""
    tools = body.get("tools")
    if not isinstance(tools, list):
        return []  # not a list: the translation refuses it with a 400 naming 'tools'
    kinds = [t.get("type") for t in tools if isinstance(t, dict)]
    return [str(kind) for kind in kinds if not (isinstance(kind, str) and kind in _TRANSLATED_TOOLS)]


def pack_thinking(blocks: list[dict[str, Any]]) -> str:
    return THINKING_PREFIX + base64.b64encode(orjson.dumps(blocks)).decode()


def unpack_thinking(value: Any) -> list[dict[str, Any]] | None:
    if not isinstance(value, str) or not value.startswith(THINKING_PREFIX):
        return None
    try:
        blocks = orjson.loads(base64.b64decode(value[len(THINKING_PREFIX) :]))
    except (ValueError, orjson.JSONDecodeError):
        return None
    return blocks if isinstance(blocks, list) else None


# ---------------------------------------------------------------------------------------------
# Content


def _part(part: Any, path: str) -> dict[str, Any]:
    if isinstance(part, str):
        return {"type": "text", "text": part}
    if not isinstance(part, dict):
        raise _fail(f"'{path}' must be an object.", path)
    kind = part.get("type")
    out: dict[str, Any]
    if kind in ("input_text", "output_text", "text", "summary_text"):
        text = part.get("text")
        if not isinstance(text, str):
            raise _fail(f"'{path}.text' must be a string.", f"{path}.text")
        out = {"type": "text", "text": text}
    elif kind == "refusal":
        out = {"type": "text", "text": str(part.get("refusal") or "")}
    elif kind == "input_image":
        url = part.get("image_url")
        if not isinstance(url, str) or not url:
            if part.get("file_id"):
                raise _fail("input_image with a file_id needs an upstream with the Responses API.", path)
            raise _fail(f"'{path}.image_url' must be a non-empty string.", f"{path}.image_url")
        image: dict[str, Any] = {"url": url}
        if part.get("detail") in ("low", "high", "auto"):
            image["detail"] = part["detail"]
        out = {"type": "image_url", "image_url": image}
    elif kind == "input_file":
        file = {k: part[k] for k in ("file_data", "file_id", "filename") if part.get(k)}
        if not file:
            raise _fail(f"'{path}' needs file_data or file_id.", path)
        out = {"type": "file", "file": file}
    elif kind == "input_audio":
        out = {"type": "input_audio", "input_audio": part.get("input_audio") or {}}
    else:
        raise _fail(f"'{path}.type' {kind!r} is not a supported content part.", f"{path}.type")
    if part.get("cache_control"):
        out["cache_control"] = part["cache_control"]
    return out


def _content(content: Any, path: str) -> Any:
    """Item content → chat content: a string stays a string, parts become chat parts (plain text
    parts without cache marks collapse to a string, which every upstream accepts)."""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise _fail(f"'{path}' must be a string or an array of content parts.", path)
    parts = [_part(p, f"{path}[{i}]") for i, p in enumerate(content)]
    if all(p["type"] == "text" and "cache_control" not in p for p in parts):
        return "".join(p["text"] for p in parts) if len(parts) <= 1 else parts
    return parts


def _output_text(content: Any) -> Any:
    if isinstance(content, list) and all(
        isinstance(p, dict) and p.get("type") in ("output_text", "refusal") for p in content
    ):
        return "".join(
            str(p.get("text") if p.get("type") == "output_text" else p.get("refusal") or "") for p in content
        )
    return content


def _tool_output(output: Any, path: str) -> Any:
    if isinstance(output, str):
        return output
    if isinstance(output, list):
        return _content(output, path)
    return orjson.dumps(output).decode()


# ---------------------------------------------------------------------------------------------
# Items


class _Builder:
    """Folds items into chat messages: calls and reasoning join the assistant turn they belong to.
    ``lenient``: item types with no chat form are left out instead of refused (the request goes to
    an upstream that reads them natively; the chat form only serves estimates and routing)."""

    def __init__(self, lenient: bool = False) -> None:
        self.lenient = lenient
        self.messages: list[dict[str, Any]] = []
        self._reasoning: list[str] = []
        self._thinking: list[dict[str, Any]] = []

    def _assistant(self) -> dict[str, Any]:
        last = self.messages[-1] if self.messages else None
        if last is not None and last["role"] == "assistant" and not self._reasoning and not self._thinking:
            return last
        message: dict[str, Any] = {"role": "assistant", "content": None}
        if self._reasoning:
            message["reasoning_content"] = "".join(self._reasoning)
        if self._thinking:
            message["thinking_blocks"] = self._thinking
        self._reasoning, self._thinking = [], []
        self.messages.append(message)
        return message

    def message(self, item: dict[str, Any], path: str) -> None:
        role = item.get("role")
        if not isinstance(role, str) or role not in _MESSAGE_ROLES:
            raise _fail(f"'{path}.role' must be one of {sorted(_MESSAGE_ROLES)}, got {role!r}.", f"{path}.role")
        content = item.get("content")
        if content is None:
            raise _fail(f"'{path}.content' is required.", f"{path}.content")
        if role == "assistant":
            text = _output_text(content)
            target = self._assistant()
            converted = _content(text, f"{path}.content")
            if target.get("tool_calls") or target["content"] is not None:
                target = {"role": "assistant", "content": converted}
                self.messages.append(target)
            else:
                target["content"] = converted
            return
        self.messages.append({"role": role, "content": _content(content, f"{path}.content")})

    def function_call(self, item: dict[str, Any], path: str) -> None:
        call_id = item.get("call_id")
        name = item.get("name")
        if not isinstance(call_id, str) or not isinstance(name, str):
            raise _fail(f"'{path}' needs 'call_id' and 'name' strings.", path)
        namespace = item.get("namespace")
        name = chat_name(name, namespace if isinstance(namespace, str) else None)
        raw: Any = item.get("arguments")
        if item.get("type") == "custom_tool_call":
            raw = {"input": str(item.get("input") or "")}
        arguments = raw if isinstance(raw, str) else orjson.dumps(raw or {}).decode()
        target = self._assistant()
        target.setdefault("tool_calls", []).append(
            {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}
        )

    def function_call_output(self, item: dict[str, Any], path: str) -> None:
        call_id = item.get("call_id")
        if not isinstance(call_id, str):
            raise _fail(f"'{path}.call_id' must be a string.", f"{path}.call_id")
        self.messages.append(
            {"role": "tool", "tool_call_id": call_id, "content": _tool_output(item.get("output"), f"{path}.output")}
        )

    def reasoning(self, item: dict[str, Any]) -> None:
        blocks = unpack_thinking(item.get("encrypted_content"))
        if blocks:
            self._thinking.extend(blocks)
        summary = item.get("summary")
        for part in summary if isinstance(summary, list) else ():
            if isinstance(part, dict) and isinstance(part.get("text"), str):
                self._reasoning.append(part["text"])

    def add(self, item: Any, path: str) -> None:
        if not isinstance(item, dict):
            raise _fail(f"'{path}' must be an object.", path)
        kind = item.get("type")
        if kind in (None, "message"):
            self.message(item, path)
        elif kind in ("function_call", "custom_tool_call"):
            self.function_call(item, path)
        elif kind in ("function_call_output", "custom_tool_call_output"):
            self.function_call_output(item, path)
        elif kind == "reasoning":
            self.reasoning(item)
        elif self.lenient:
            return
        elif kind == "item_reference":
            raise _fail("item_reference inputs are not supported; send the item itself.", f"{path}.type")
        else:
            raise _fail(
                f"input item type {kind!r} needs an upstream with the Responses API; this model has none.",
                f"{path}.type",
            )


def input_items(value: Any) -> list[dict[str, Any]]:
    """``input`` as a list of items (a string is one user message)."""
    if isinstance(value, str):
        return [{"type": "message", "role": "user", "content": value}]
    if value is None:
        return []
    if not isinstance(value, list):
        raise _fail("'input' must be a string or an array of input items.", "input")
    return value


def messages(instructions: Any, items: list[dict[str, Any]], lenient: bool = False) -> list[dict[str, Any]]:
    builder = _Builder(lenient)
    if instructions:
        if not isinstance(instructions, str):
            raise _fail("'instructions' must be a string.", "instructions")
        builder.messages.append({"role": "system", "content": instructions})
    for index, item in enumerate(items):
        builder.add(item, f"input[{index}]")
    return builder.messages


# ---------------------------------------------------------------------------------------------
# Tools and options


def _function(tool: dict[str, Any], path: str, namespace: str | None, names: ToolNames) -> dict[str, Any]:
    name = tool.get("name")
    if not isinstance(name, str) or not name:
        raise _fail(f"'{path}.name' is required.", f"{path}.name")
    custom = tool.get("type") == "custom"
    parameters = _CUSTOM_PARAMETERS if custom else tool.get("parameters") or {"type": "object"}
    function: dict[str, Any] = {"name": chat_name(name, namespace), "parameters": parameters}
    if tool.get("description") is not None:
        function["description"] = tool["description"]
    if tool.get("strict") is not None and not custom:
        function["strict"] = tool["strict"]
    names[function["name"]] = ToolRef(name, namespace, custom)
    chat_tool: dict[str, Any] = {"type": "function", "function": function}
    if tool.get("cache_control"):
        chat_tool["cache_control"] = tool["cache_control"]
    return chat_tool


def _tools(tools: list[Any], names: ToolNames) -> list[dict[str, Any]]:
    out = []
    for index, tool in enumerate(tools):
        path = f"tools[{index}]"
        if not isinstance(tool, dict):
            raise _fail(f"'{path}' must be an object.", path)
        kind = tool.get("type")
        if kind in ("function", "custom"):
            out.append(_function(tool, path, None, names))
        elif kind == "namespace":
            namespace = tool.get("name")
            if not isinstance(namespace, str) or not namespace:
                raise _fail(f"'{path}.name' is required.", f"{path}.name")
            inner_tools = tool.get("tools")
            if not isinstance(inner_tools, list):
                raise _fail(f"'{path}.tools' must be an array.", f"{path}.tools")
            for j, inner in enumerate(inner_tools):
                if isinstance(inner, dict) and inner.get("type") in ("function", "custom"):
                    out.append(_function(inner, f"{path}.tools[{j}]", namespace, names))
        # hosted tools: refused by the surface unless the upstream runs them natively
    return out


def _tool_choice(choice: Any) -> Any:
    if choice in ("auto", "none", "required"):
        return choice
    if isinstance(choice, dict):
        kind = choice.get("type")
        if kind in ("function", "custom") and isinstance(choice.get("name"), str):
            namespace = choice.get("namespace")
            name = chat_name(choice["name"], namespace if isinstance(namespace, str) else None)
            return {"type": "function", "function": {"name": name}}
        if kind == "allowed_tools" and choice.get("mode") in ("auto", "required"):
            return choice["mode"]
    raise _fail(f"'tool_choice' {choice!r} is not supported for this model.", "tool_choice")


def _response_format(text: Any) -> dict[str, Any] | None:
    if text is None:
        return None
    if not isinstance(text, dict):
        raise _fail("'text' must be an object.", "text")
    fmt = text.get("format")
    if fmt is None:
        return None
    if not isinstance(fmt, dict):
        raise _fail("'text.format' must be an object.", "text.format")
    kind = fmt.get("type")
    if kind == "text":
        return None
    if kind == "json_object":
        return {"type": "json_object"}
    if kind == "json_schema":
        if not isinstance(fmt.get("name"), str) or not isinstance(fmt.get("schema"), dict):
            raise _fail("'text.format' of type json_schema needs 'name' and 'schema'.", "text.format")
        schema = {k: fmt[k] for k in ("name", "schema", "strict", "description") if fmt.get(k) is not None}
        return {"type": "json_schema", "json_schema": schema}
    raise _fail("'text.format.type' must be 'text', 'json_object' or 'json_schema'.", "text.format.type")


def to_chat(
    body: dict[str, Any], history: list[dict[str, Any]], names: ToolNames | None = None, *, lenient: bool = False
) -> dict[str, Any]:
    """The canonical chat request for a Responses request whose conversation so far is ``history``
    (the stored items of ``previous_response_id``) followed by this request's ``input``.
    ``names`` is filled with the chat name of every tool; ``lenient``: only upstreams with the
    Responses API can serve it, so items without a chat form are left out, not refused."""
    names = {} if names is None else names
    items = [*history, *input_items(body.get("input"))]
    chat: dict[str, Any] = {"model": body["model"], "messages": messages(body.get("instructions"), items, lenient)}
    tools = body.get("tools")
    if tools:
        if not isinstance(tools, list):
            raise _fail("'tools' must be an array.", "tools")
        converted = _tools(tools, names)
        if converted:
            chat["tools"] = converted
    choice = body.get("tool_choice")
    if choice is not None and ("tools" in chat or choice == "none"):
        chat["tool_choice"] = _tool_choice(choice)
    if body.get("parallel_tool_calls") is not None and "tools" in chat:
        chat["parallel_tool_calls"] = bool(body["parallel_tool_calls"])
    response_format = _response_format(body.get("text"))
    if response_format is not None:
        chat["response_format"] = response_format
    reasoning = body.get("reasoning")
    if isinstance(reasoning, dict) and reasoning.get("effort"):
        chat["reasoning_effort"] = reasoning["effort"]
    if body.get("max_output_tokens") is not None:
        chat["max_tokens"] = body["max_output_tokens"]
    for name in ("temperature", "top_p", "user", "route", "models"):
        if body.get(name) is not None:
            chat[name] = body[name]
    if body.get("stream"):
        chat["stream"] = True
        chat["stream_options"] = {"include_usage": True}
    return chat
