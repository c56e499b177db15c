"""The shape of an Anthropic ``/v1/messages`` (and ``count_tokens``) body, checked before translation.

The translator (``providers/anthropic/inbound.py``) reads many optional fields; a client that sends one of
them with the wrong type (a number as ``text``, a string as ``tools``) must get Anthropic's own
``invalid_request_error`` naming the field, not a crash halfway through translation. The schema
types only what the gateway reads; unknown fields and block types pass (the translator refuses
block types it cannot carry, with its own message).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, StrictBool, StrictFloat, StrictInt, StrictStr, ValidationError

from unigate.errors import BadRequest

Number = StrictInt | StrictFloat


class _Loose(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)


class _Source(_Loose):
    type: StrictStr | None = None
    media_type: StrictStr | None = None
    data: StrictStr | None = None
    url: StrictStr | None = None
    content: StrictStr | list[_Block] | None = None


class _Block(_Loose):
    type: StrictStr
    text: StrictStr | None = None
    source: _Source | None = None
    title: StrictStr | None = None
    content: StrictStr | list[_Block] | None = None
    tool_use_id: StrictStr | None = None
    is_error: StrictBool | None = None
    id: StrictStr | None = None
    name: StrictStr | None = None
    input: dict[str, Any] | None = None
    thinking: StrictStr | None = None
    signature: StrictStr | None = None
    data: StrictStr | None = None
    cache_control: dict[str, Any] | None = None


class _Message(_Loose):
    # "system": a system turn mid-conversation (the mid-conversation-system beta Claude Code uses)
    role: Literal["user", "assistant", "system"]
    content: StrictStr | list[_Block]


class _Tool(_Loose):
    type: StrictStr | None = None
    name: StrictStr
    description: StrictStr | None = None
    input_schema: dict[str, Any] | None = None
    strict: StrictBool | None = None
    cache_control: dict[str, Any] | None = None


class _ToolChoice(_Loose):
    type: StrictStr
    name: StrictStr | None = None
    disable_parallel_tool_use: StrictBool | None = None


class _Metadata(_Loose):
    user_id: StrictStr | None = None


class _Thinking(_Loose):
    type: StrictStr
    budget_tokens: StrictInt | None = None


class MessagesBody(_Loose):
    model: StrictStr
    messages: list[_Message]
    max_tokens: StrictInt | None = None
    system: StrictStr | list[_Block] | None = None
    temperature: Number | None = None
    top_p: Number | None = None
    top_k: StrictInt | None = None
    stop_sequences: list[StrictStr] | None = None
    stream: StrictBool | None = None
    tools: list[_Tool] | None = None
    tool_choice: _ToolChoice | None = None
    metadata: _Metadata | None = None
    thinking: _Thinking | None = None


def validate_messages_body(body: dict[str, Any]) -> None:
    """Raise BadRequest (Anthropic-style message ``field.path: problem``) for a body whose
    fields have the wrong types."""
    try:
        MessagesBody.model_validate(body)
    except ValidationError as exc:
        # a union reports one error per branch: the deepest one is about what the client meant
        # (a block with a bad field, rather than "not a string"); branch names are left out
        paths = [([str(p) for p in e["loc"] if not _is_branch(p)], e["msg"]) for e in exc.errors(include_url=False)]
        loc, message = max(paths, key=lambda item: len(item[0]))
        path = ".".join(loc) or "body"
        raise BadRequest(f"{path}: {message}", param=path, code="invalid_request_error") from None


_PRIMITIVES = frozenset({"str", "int", "float", "bool"})


def _is_branch(part: Any) -> bool:
    """A union branch name in a pydantic error location (``str``, ``list[_Block]``, ``_Block``)."""
    text = str(part)
    return text in _PRIMITIVES or text.startswith(("list[", "dict[", "_", "function-")) or text[:1].isupper()
