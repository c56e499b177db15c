"""Request validation for the OpenAI surface: fast hand-written checks with OpenAI-style
messages and ``param`` paths (a pydantic round-trip of whole message lists costs more than the
gateway's whole overhead budget). Unknown fields are allowed: they pass through upstream."""

from __future__ import annotations

import re
from typing import Any

import orjson

from unigate.errors import BadRequest, GatewayError

_ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})
_PART_TYPES = frozenset({"text", "image_url", "input_audio", "file", "refusal"})
# Deeper JSON than this is refused: nothing legitimate nests so deep, and serialisers (orjson
# stops at 254 levels) and recursive translators would fail on it later, after routing began.
MAX_JSON_DEPTH = 64
# Client-chosen model names reach logs, metrics labels, the ledger and upstream URLs: a bounded
# alphabet and length (the ledger column holds 200 characters).
MAX_MODEL_NAME = 200
_MODEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/@+\-]*")


class UnsupportedMediaType(BadRequest):
    status = 415
    default_code = "unsupported_media_type"


def parse_json_object(body: bytes, content_type: bytes | None) -> dict[str, Any]:
    if content_type is not None and not content_type.lower().startswith(b"application/json"):
        raise UnsupportedMediaType(f"Content-Type must be application/json, got {content_type.decode('latin-1')!r}.")
    if not body:
        raise BadRequest("The request body is empty; expected a JSON object.")
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"The request body is not valid JSON: {exc}", code="invalid_json") from exc
    if not isinstance(data, dict):
        raise BadRequest("The request body must be a JSON object.", code="invalid_json")
    check_depth(data, body)
    return data


def check_depth(data: Any, raw: bytes = b"") -> None:
    """Refuse JSON nested deeper than :data:`MAX_JSON_DEPTH` (400)."""
    if raw and raw.count(b"[") + raw.count(b"{") <= MAX_JSON_DEPTH:
        return  # cannot be that deep: spares the walk for ordinary bodies
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            raise BadRequest(f"The request body is nested deeper than {MAX_JSON_DEPTH} levels.", code="invalid_json")
        children = value.values() if isinstance(value, dict) else value
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))


def _fail(message: str, param: str) -> GatewayError:
    return BadRequest(message, param=param, code="invalid_value")


def _number(body: dict[str, Any], name: str, low: float, high: float) -> None:
    value = body.get(name)
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _fail(f"'{name}' must be a number, got {type(value).__name__}.", name)
    if not low <= value <= high:
        raise _fail(f"'{name}' must be between {low:g} and {high:g}, got {value}.", name)


def _positive_int(body: dict[str, Any], name: str) -> None:
    value = body.get(name)
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int):
        raise _fail(f"'{name}' must be an integer, got {type(value).__name__}.", name)
    if value < 1:
        raise _fail(f"'{name}' must be at least 1, got {value}.", name)


def _model(body: dict[str, Any]) -> None:
    model = body.get("model")
    if model is None:
        raise BadRequest("Missing required parameter: 'model'.", param="model", code="missing_required_parameter")
    if not isinstance(model, str) or not model:
        raise _fail("'model' must be a non-empty string.", "model")
    check_model_name(model)


def check_model_name(model: str, param: str = "model") -> None:
    """A model name a client may send: at most :data:`MAX_MODEL_NAME` characters of letters,
    digits and ``. _ : / @ + -``."""
    if len(model) > MAX_MODEL_NAME:
        raise _fail(f"'{param}' is longer than {MAX_MODEL_NAME} characters.", param)
    if _MODEL_NAME.fullmatch(model) is None:
        raise _fail(
            f"'{param}' may contain only letters, digits and the characters . _ : / @ + - (got {model[:60]!r}).", param
        )
    if any(part in (".", "..", "") for part in model.split("/")[1:]):
        # parts of a provider/<model> name can end up in an upstream URL: never a path step
        raise _fail(f"'{param}' may not contain empty, '.' or '..' path segments (got {model[:60]!r}).", param)


def _content(content: Any, path: str, role: str) -> None:
    if content is None:
        if role in ("assistant",):
            return
        raise _fail(f"'{path}.content' is required for role '{role}'.", f"{path}.content")
    if isinstance(content, str):
        return
    if not isinstance(content, list):
        raise _fail(f"'{path}.content' must be a string or an array of content parts.", f"{path}.content")
    for j, part in enumerate(content):
        part_path = f"{path}.content[{j}]"
        if not isinstance(part, dict):
            raise _fail(f"'{part_path}' must be an object.", part_path)
        kind = part.get("type")
        if not isinstance(kind, str) or kind not in _PART_TYPES:
            raise _fail(f"'{part_path}.type' must be one of {sorted(_PART_TYPES)}, got {kind!r}.", f"{part_path}.type")
        if kind == "text" and not isinstance(part.get("text"), str):
            raise _fail(f"'{part_path}.text' must be a string.", f"{part_path}.text")
        if kind == "image_url":
            image = part.get("image_url")
            url = image.get("url") if isinstance(image, dict) else None
            if not isinstance(url, str) or not url:
                raise _fail(f"'{part_path}.image_url.url' must be a non-empty string.", f"{part_path}.image_url.url")


def _messages(body: dict[str, Any]) -> None:
    messages = body.get("messages")
    if messages is None:
        raise BadRequest("Missing required parameter: 'messages'.", param="messages", code="missing_required_parameter")
    if not isinstance(messages, list):
        raise _fail("'messages' must be an array.", "messages")
    if not messages:
        raise _fail("'messages' must contain at least one message.", "messages")
    for i, message in enumerate(messages):
        path = f"messages[{i}]"
        if not isinstance(message, dict):
            raise _fail(f"'{path}' must be an object.", path)
        role = message.get("role")
        if not isinstance(role, str) or role not in _ROLES:
            raise _fail(f"'{path}.role' must be one of {sorted(_ROLES)}, got {role!r}.", f"{path}.role")
        if role == "assistant" and message.get("tool_calls"):
            _tool_calls(message["tool_calls"], f"{path}.tool_calls")
            continue
        if role == "tool" and not isinstance(message.get("tool_call_id"), str):
            raise _fail(f"'{path}.tool_call_id' is required for role 'tool'.", f"{path}.tool_call_id")
        _content(message.get("content"), path, role)


def _tool_calls(calls: Any, path: str) -> None:
    if not isinstance(calls, list):
        raise _fail(f"'{path}' must be an array.", path)
    for i, call in enumerate(calls):
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(function, dict) or not isinstance(function.get("name"), str):
            raise _fail(f"'{path}[{i}].function.name' is required.", f"{path}[{i}].function.name")
        arguments = function.get("arguments")
        if arguments is not None and not isinstance(arguments, str):
            raise _fail(f"'{path}[{i}].function.arguments' must be a string.", f"{path}[{i}].function.arguments")


def _functions(body: dict[str, Any]) -> None:
    """The legacy ``functions`` / ``function_call`` pair."""
    functions = body.get("functions")
    if functions is not None:
        if not isinstance(functions, list):
            raise _fail("'functions' must be an array.", "functions")
        for i, function in enumerate(functions):
            if not isinstance(function, dict) or not isinstance(function.get("name"), str) or not function["name"]:
                raise _fail(f"'functions[{i}].name' is required.", f"functions[{i}].name")
    call = body.get("function_call")
    if (
        call is not None
        and not isinstance(call, str)
        and not (isinstance(call, dict) and isinstance(call.get("name"), str))
    ):
        raise _fail("'function_call' must be 'none', 'auto' or {\"name\": …}.", "function_call")


def _tool_choice(body: dict[str, Any]) -> None:
    choice = body.get("tool_choice")
    if choice is None or isinstance(choice, str):
        return
    if not isinstance(choice, dict):
        raise _fail("'tool_choice' must be a string or an object.", "tool_choice")
    function = choice.get("function")
    if function is not None and (not isinstance(function, dict) or not isinstance(function.get("name"), str)):
        raise _fail("'tool_choice.function.name' must be a string.", "tool_choice.function.name")


def _typed(body: dict[str, Any], name: str, kind: type | tuple[type, ...], what: str) -> None:
    value = body.get(name)
    if value is not None and (isinstance(value, bool) is not (kind is bool) or not isinstance(value, kind)):
        raise _fail(f"'{name}' must be {what}.", name)


def _tools(body: dict[str, Any]) -> None:
    tools = body.get("tools")
    if tools is None:
        return
    if not isinstance(tools, list):
        raise _fail("'tools' must be an array.", "tools")
    for i, tool in enumerate(tools):
        if not isinstance(tool, dict) or tool.get("type") not in ("function", None):
            raise _fail(f"'tools[{i}]' must be an object with type 'function'.", f"tools[{i}]")
        function = tool.get("function")
        if not isinstance(function, dict) or not isinstance(function.get("name"), str) or not function["name"]:
            raise _fail(f"'tools[{i}].function.name' is required.", f"tools[{i}].function.name")
        parameters = function.get("parameters")
        if parameters is not None and not isinstance(parameters, dict):
            raise _fail(f"'tools[{i}].function.parameters' must be an object.", f"tools[{i}].function.parameters")


def _response_format(body: dict[str, Any]) -> None:
    fmt = body.get("response_format")
    if fmt is None:
        return
    if not isinstance(fmt, dict) or fmt.get("type") not in ("text", "json_object", "json_schema"):
        raise _fail("'response_format.type' must be 'text', 'json_object' or 'json_schema'.", "response_format.type")
    if fmt["type"] == "json_schema":
        schema = fmt.get("json_schema")
        if not isinstance(schema, dict) or not isinstance(schema.get("name"), str):
            raise _fail("'response_format.json_schema.name' is required.", "response_format.json_schema")


def _stop(body: dict[str, Any]) -> None:
    stop = body.get("stop")
    if stop is None or isinstance(stop, str):
        return
    if not isinstance(stop, list) or not all(isinstance(s, str) for s in stop):
        raise _fail("'stop' must be a string or an array of strings.", "stop")


def validate_chat(body: dict[str, Any]) -> None:
    """Raise BadRequest (with ``param``) for anything an upstream would reject for shape reasons."""
    _model(body)
    _messages(body)
    stream = body.get("stream")
    if stream is not None and not isinstance(stream, bool):
        raise _fail("'stream' must be a boolean.", "stream")
    options = body.get("stream_options")
    if options is not None and not isinstance(options, dict):
        raise _fail("'stream_options' must be an object.", "stream_options")
    _number(body, "temperature", 0, 2)
    _number(body, "top_p", 0, 1)
    _number(body, "presence_penalty", -2, 2)
    _number(body, "frequency_penalty", -2, 2)
    _positive_int(body, "max_tokens")
    _positive_int(body, "max_completion_tokens")
    _positive_int(body, "n")
    seed = body.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise _fail("'seed' must be an integer.", "seed")
    _stop(body)
    _tools(body)
    _tool_choice(body)
    _functions(body)
    _response_format(body)
    _typed(body, "metadata", dict, "an object")
    _typed(body, "logit_bias", dict, "an object")
    _typed(body, "user", str, "a string")
    _typed(body, "reasoning_effort", str, "a string")
    _typed(body, "parallel_tool_calls", bool, "a boolean")
    _typed(body, "logprobs", bool, "a boolean")
    _typed(body, "top_logprobs", int, "an integer")
    _typed(body, "modalities", list, "an array")
    _typed(body, "audio", dict, "an object")
    _typed(body, "prediction", dict, "an object")
    _typed(body, "route", dict, "an object")
    _typed(body, "models", list, "an array")


def validate_embeddings(body: dict[str, Any]) -> None:
    _model(body)
    value = body.get("input")
    if value is None:
        raise BadRequest("Missing required parameter: 'input'.", param="input", code="missing_required_parameter")
    if isinstance(value, str):
        return
    if not isinstance(value, list) or not value:
        raise _fail("'input' must be a string or a non-empty array of strings.", "input")
    for i, item in enumerate(value):
        if not isinstance(item, str):
            # token-id arrays are part of OpenAI's API but not every provider here can take
            # them (the local model, Gemini, Cohere): refused clearly rather than half-supported
            raise _fail(
                f"'input[{i}]' must be a string: token-id arrays are not supported by this gateway.", f"input[{i}]"
            )
    _typed(body, "encoding_format", str, "a string")
    _typed(body, "dimensions", int, "an integer")
    _typed(body, "user", str, "a string")
