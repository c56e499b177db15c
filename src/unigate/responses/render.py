"""Canonical chat answers → Responses API objects and stream events (pure, no I/O).

:func:`response_object` builds the ``response`` object around output items; :func:`output_items`
turns a ``chat.completion`` into items (``reasoning``, ``message`` with ``output_text``,
``function_call``); :func:`usage` maps chat usage to Responses usage (cached and reasoning token
details; cache writes as the extra ``input_tokens_details.cache_creation_tokens``).
:class:`StreamRenderer` turns ``chat.completion.chunk`` dicts into the event sequence the
official SDKs parse — ``response.created``, ``response.in_progress``, per item
``response.output_item.added`` … ``response.output_item.done`` (with ``content_part`` /
``output_text`` / ``function_call_arguments`` / ``reasoning_summary`` events inside), then
``response.completed`` (or ``response.incomplete``) — each with its ``sequence_number``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from random import getrandbits
from typing import Any

import orjson

from unigate.responses.convert import ToolNames, ToolRef, pack_thinking

Event = dict[str, Any]

# Request fields echoed on the response object, with the value an absent field has.
ECHOED: tuple[tuple[str, Any], ...] = (
    ("instructions", None),
    ("max_output_tokens", None),
    ("parallel_tool_calls", True),
    ("previous_response_id", None),
    ("temperature", 1.0),
    ("tool_choice", "auto"),
    ("tools", []),
    ("top_p", 1.0),
    ("truncation", "disabled"),
    ("user", None),
    ("metadata", {}),
    ("prompt_cache_key", None),
    ("service_tier", None),
)


def new_id(prefix: str) -> str:
    return f"{prefix}_{getrandbits(128):032x}"


def usage(chat_usage: dict[str, Any] | None) -> dict[str, Any] | None:
    if not chat_usage:
        return None
    prompt = int(chat_usage.get("prompt_tokens") or 0)
    completion = int(chat_usage.get("completion_tokens") or 0)
    prompt_details = chat_usage.get("prompt_tokens_details") or {}
    completion_details = chat_usage.get("completion_tokens_details") or {}
    input_details: dict[str, Any] = {"cached_tokens": int(prompt_details.get("cached_tokens") or 0)}
    if prompt_details.get("cache_creation_tokens"):
        input_details["cache_creation_tokens"] = int(prompt_details["cache_creation_tokens"])
    result: dict[str, Any] = {
        "input_tokens": prompt,
        "input_tokens_details": input_details,
        "output_tokens": completion,
        "output_tokens_details": {"reasoning_tokens": int(completion_details.get("reasoning_tokens") or 0)},
        "total_tokens": int(chat_usage.get("total_tokens") or prompt + completion),
    }
    if chat_usage.get("cost") is not None:
        result["cost"] = chat_usage["cost"]
    return result


def status_of(finish_reason: str | None) -> tuple[str, dict[str, Any] | None]:
    if finish_reason == "length":
        return "incomplete", {"reason": "max_output_tokens"}
    if finish_reason == "content_filter":
        return "incomplete", {"reason": "content_filter"}
    return "completed", None


def response_object(
    request: dict[str, Any],
    response_id: str,
    model: str,
    created_at: int,
    output: list[dict[str, Any]],
    status: str,
    *,
    usage: dict[str, Any] | None = None,
    incomplete: dict[str, Any] | None = None,
    error: dict[str, Any] | None = None,
) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "id": response_id,
        "object": "response",
        "created_at": created_at,
        "status": status,
        "error": error,
        "incomplete_details": incomplete,
        "model": model,
        "output": output,
    }
    for name, default in ECHOED:
        value = request.get(name)
        obj[name] = default if value is None else value
    obj["reasoning"] = {"effort": (request.get("reasoning") or {}).get("effort"), "summary": None}
    obj["store"] = request.get("store", True) is not False
    obj["text"] = request.get("text") or {"format": {"type": "text"}}
    obj["usage"] = usage
    return obj


def _message_item(item_id: str, text: str, status: str = "completed", refusal: bool = False) -> dict[str, Any]:
    part = (
        {"type": "refusal", "refusal": text}
        if refusal
        else {"type": "output_text", "text": text, "annotations": [], "logprobs": []}
    )
    return {"id": item_id, "type": "message", "status": status, "role": "assistant", "content": [part]}


def _reasoning_item(item_id: str, text: str, thinking: list[dict[str, Any]] | None) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": item_id,
        "type": "reasoning",
        "summary": [{"type": "summary_text", "text": text}] if text else [],
    }
    if thinking:
        item["encrypted_content"] = pack_thinking(thinking)  # signed thinking goes back upstream intact
    return item


def custom_input(arguments: str) -> str:
    """The free-form input of a custom tool, from the arguments of the function standing in for it."""
    try:
        value = orjson.loads(arguments) if arguments else {}
    except orjson.JSONDecodeError:
        return arguments
    return str(value.get("input") or "") if isinstance(value, dict) else str(value)


def _call_item(item_id: str, call: dict[str, Any], names: ToolNames, status: str = "completed") -> dict[str, Any]:
    function = call.get("function") or {}
    arguments = function.get("arguments")
    if not isinstance(arguments, str):
        arguments = orjson.dumps(arguments or {}).decode()
    chat_name = str(function.get("name") or "")
    ref = names.get(chat_name) or ToolRef(chat_name)
    call_id = call.get("id") or new_id("call")
    if ref.custom:
        item = {"id": item_id, "type": "custom_tool_call", "status": status, "call_id": call_id, "name": ref.name}
        item["input"] = custom_input(arguments)
    else:
        item = {"id": item_id, "type": "function_call", "status": status, "call_id": call_id, "name": ref.name}
        item["arguments"] = arguments
    if ref.namespace:
        item["namespace"] = ref.namespace
    return item


def output_items(chat: dict[str, Any], names: ToolNames | None = None) -> tuple[list[dict[str, Any]], str | None]:
    """A ``chat.completion`` → (output items, finish reason); ``names`` maps chat tool names back
    to the client's (namespaced or custom) tools."""
    choice = (chat.get("choices") or [{}])[0]
    message = choice.get("message") or {}
    items: list[dict[str, Any]] = []
    thinking = [b for b in message.get("thinking_blocks") or () if isinstance(b, dict)]
    reasoning = message.get("reasoning_content") or "".join(str(b.get("thinking") or "") for b in thinking)
    if reasoning or thinking:
        items.append(_reasoning_item(new_id("rs"), reasoning, thinking))
    content = message.get("content")
    if isinstance(content, list):
        content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
    if content:
        items.append(_message_item(new_id("msg"), content))
    elif message.get("refusal"):
        items.append(_message_item(new_id("msg"), message["refusal"], refusal=True))
    for call in message.get("tool_calls") or ():
        items.append(_call_item(new_id("fc"), call, names or {}))
    return items, choice.get("finish_reason")


# ---------------------------------------------------------------------------------------------
# Streaming


@dataclass
class _Open:
    kind: str  # "reasoning" | "message" | "function_call"
    index: int
    item: dict[str, Any]
    text: list[str] = field(default_factory=list)


@dataclass
class StreamRenderer:
    """Chat chunks → Responses stream events. ``start()`` first, ``feed(chunk)`` per chunk,
    ``finish()`` for the closing events and the final response object (``final``)."""

    request: dict[str, Any]
    response_id: str
    model: str
    created_at: int = field(default_factory=lambda: int(time.time()))
    sequence: int = 0
    output: list[dict[str, Any]] = field(default_factory=list)
    current: _Open | None = None
    calls: dict[int, _Open] = field(default_factory=dict)  # chat tool-call index → its item
    thinking: list[dict[str, Any]] = field(default_factory=list)
    finish_reason: str | None = None
    chat_usage: dict[str, Any] | None = None
    final: dict[str, Any] | None = None
    names: ToolNames = field(default_factory=dict)

    def _event(self, kind: str, **data: Any) -> Event:
        event = {"type": kind, "sequence_number": self.sequence, **data}
        self.sequence += 1
        return event

    def snapshot(self, status: str, **extra: Any) -> dict[str, Any]:
        return response_object(
            self.request, self.response_id, self.model, self.created_at, list(self.output), status, **extra
        )

    def start(self) -> list[Event]:
        snapshot = self.snapshot("in_progress")
        return [
            self._event("response.created", response=snapshot),
            self._event("response.in_progress", response=snapshot),
        ]

    # -- items --------------------------------------------------------------------------------

    def _open(self, kind: str, item: dict[str, Any]) -> list[Event]:
        events = self._close_current()
        opened = _Open(kind, len(self.output), item)
        self.output.append(item)
        self.current = opened
        events.append(self._event("response.output_item.added", output_index=opened.index, item=dict(item)))
        if kind == "message":
            part = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
            item["content"] = []
            events.append(
                self._event(
                    "response.content_part.added",
                    item_id=item["id"],
                    output_index=opened.index,
                    content_index=0,
                    part=part,
                )
            )
        elif kind == "reasoning":
            events.append(
                self._event(
                    "response.reasoning_summary_part.added",
                    item_id=item["id"],
                    output_index=opened.index,
                    summary_index=0,
                    part={"type": "summary_text", "text": ""},
                )
            )
        return events

    def _close_current(self) -> list[Event]:
        opened, self.current = self.current, None
        if opened is None:
            return []
        item = opened.item
        text = "".join(opened.text)
        index = opened.index
        events: list[Event] = []
        if opened.kind == "message":
            part = {"type": "output_text", "text": text, "annotations": [], "logprobs": []}
            events.append(
                self._event(
                    "response.output_text.done",
                    item_id=item["id"],
                    output_index=index,
                    content_index=0,
                    text=text,
                    logprobs=[],
                )
            )
            events.append(
                self._event(
                    "response.content_part.done", item_id=item["id"], output_index=index, content_index=0, part=part
                )
            )
            item["content"] = [part]
        elif opened.kind == "reasoning":
            events.append(
                self._event(
                    "response.reasoning_summary_text.done",
                    item_id=item["id"],
                    output_index=index,
                    summary_index=0,
                    text=text,
                )
            )
            part = {"type": "summary_text", "text": text}
            events.append(
                self._event(
                    "response.reasoning_summary_part.done",
                    item_id=item["id"],
                    output_index=index,
                    summary_index=0,
                    part=part,
                )
            )
            item["summary"] = [part] if text else []
            if self.thinking:
                item["encrypted_content"] = pack_thinking(self.thinking)
        elif opened.kind == "custom_tool_call":
            # the input is inside the stand-in function's JSON arguments: known whole only now
            item["input"] = custom_input(text)
            for kind, data in (("delta", {"delta": item["input"]}), ("done", {"input": item["input"]})):
                events.append(
                    self._event(
                        f"response.custom_tool_call_input.{kind}", item_id=item["id"], output_index=index, **data
                    )
                )
        else:
            item["arguments"] = text
            events.append(
                self._event(
                    "response.function_call_arguments.done",
                    item_id=item["id"],
                    output_index=index,
                    name=item["name"],
                    arguments=text,
                )
            )
        if opened.kind != "reasoning":
            item["status"] = "completed"
        events.append(self._event("response.output_item.done", output_index=index, item=dict(item)))
        return events

    def _reasoning(self, text: str) -> list[Event]:
        events: list[Event] = []
        if self.current is None or self.current.kind != "reasoning":
            events += self._open("reasoning", {"id": new_id("rs"), "type": "reasoning", "summary": []})
        assert self.current is not None
        self.current.text.append(text)
        events.append(
            self._event(
                "response.reasoning_summary_text.delta",
                item_id=self.current.item["id"],
                output_index=self.current.index,
                summary_index=0,
                delta=text,
            )
        )
        return events

    def _text(self, text: str) -> list[Event]:
        events: list[Event] = []
        if self.current is None or self.current.kind != "message":
            item = {"id": new_id("msg"), "type": "message", "status": "in_progress", "role": "assistant", "content": []}
            events += self._open("message", item)
        assert self.current is not None
        self.current.text.append(text)
        events.append(
            self._event(
                "response.output_text.delta",
                item_id=self.current.item["id"],
                output_index=self.current.index,
                content_index=0,
                delta=text,
                logprobs=[],
            )
        )
        return events

    def _tool_call(self, call: dict[str, Any]) -> list[Event]:
        position = int(call.get("index") or 0)
        function = call.get("function") or {}
        events: list[Event] = []
        opened = self.calls.get(position)
        if opened is None or self.current is not opened:
            if opened is not None:  # arguments for a call that is no longer open: keep them
                opened.text.append(function.get("arguments") or "")
                return events
            item = _call_item(
                new_id("fc"), {**call, "function": {**function, "arguments": ""}}, self.names, "in_progress"
            )
            if item["type"] == "function_call":
                item["arguments"] = ""
            events += self._open(item["type"], item)
            assert self.current is not None
            opened = self.calls[position] = self.current
        arguments = function.get("arguments")
        if arguments:
            opened.text.append(arguments)
            if opened.kind == "custom_tool_call":
                return events
            events.append(
                self._event(
                    "response.function_call_arguments.delta",
                    item_id=opened.item["id"],
                    output_index=opened.index,
                    delta=arguments,
                )
            )
        return events

    def feed(self, chunk: dict[str, Any]) -> list[Event]:
        events: list[Event] = []
        if chunk.get("usage"):
            self.chat_usage = chunk["usage"]
        for choice in chunk.get("choices") or ():
            if choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta") or {}
            if delta.get("reasoning_content"):
                events += self._reasoning(delta["reasoning_content"])
            blocks = [b for b in delta.get("thinking_blocks") or () if isinstance(b, dict)]
            if blocks:
                self.thinking.extend(blocks)
                if self.current is None or self.current.kind != "reasoning":
                    text = "".join(str(b.get("thinking") or "") for b in blocks)
                    events += self._reasoning(text) if text else self._reasoning("")
            if delta.get("content"):
                events += self._text(delta["content"])
            for call in delta.get("tool_calls") or ():
                events += self._tool_call(call)
            if choice.get("finish_reason"):
                self.finish_reason = choice["finish_reason"]
        return events

    def finish(self) -> list[Event]:
        events = self._close_current()
        status, incomplete = status_of(self.finish_reason)
        self.final = self.snapshot(status, usage=usage(self.chat_usage), incomplete=incomplete)
        kind = "response.completed" if status == "completed" else "response.incomplete"
        events.append(self._event(kind, response=self.final))
        return events

    def failed(self, code: str, message: str) -> list[Event]:
        """The closing event of a stream that broke after it started."""
        self.current = None
        self.final = self.snapshot("failed", usage=usage(self.chat_usage), error={"code": code, "message": message})
        return [self._event("response.failed", response=self.final)]
