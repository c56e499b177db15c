"""The canonical request → an Anthropic Messages API call (``POST /v1/messages``), pure.

Mapping:

- ``system`` / ``developer`` messages → top-level ``system`` (a string; text blocks when a part
  carries ``cache_control``). Consecutive messages of one role are merged because Anthropic
  wants alternating turns; ``tool`` messages become ``tool_result`` blocks of a user turn.
- images: ``data:`` URLs → base64 ``image`` sources (PDF → ``document``), http(s) → ``url`` sources.
- ``tools`` → ``{name, description, input_schema, strict}``; a non-function tool entry is sent
  verbatim (an Anthropic-native tool); ``tool_choice`` auto/none/required/named →
  auto/none/any/tool; ``parallel_tool_calls: false`` → ``disable_parallel_tool_use``.
- ``max_tokens`` is required upstream: ``max_completion_tokens`` / ``max_tokens`` /
  :func:`default_max_tokens`.
- ``response_format: json_schema`` → ``output_config.format`` (structured outputs; this is what
  the recorded traffic uses — no forced tool, so the answer stays ordinary text content).
  ``json_object`` has no native equivalent and is not sent.
- ``reasoning_effort`` → ``output_config.effort`` on models that take an effort level (as the
  recordings show for Opus 4.6/4.7), otherwise extended thinking
  ``thinking: {type: enabled, budget_tokens}`` on models that think; dropped elsewhere.
  Anthropic-native ``thinking``, ``output_config``, ``top_k`` and ``cache_control`` fields in the
  request are passed through; ``anthropic_beta`` (list) becomes the ``anthropic-beta`` header.
- Assistant history may carry ``thinking_blocks`` (what responses return, below) so signed
  thinking / redacted thinking goes back upstream unchanged, as Anthropic requires with tools.
"""

from __future__ import annotations

from typing import Any

import orjson

from unigate.errors import BadRequest
from unigate.providers.anthropic.tables import BODY_PASSTHROUGH, MIN_THINKING_BUDGET, THINKING_BUDGETS
from unigate.providers.shell import Call, join_url
from unigate.types import ChatMessage, ChatRequest, Deployment, Tool, as_json

DEFAULT_API_BASE = "https://api.anthropic.com"
API_VERSION = "2023-06-01"
DEFAULT_MAX_TOKENS = 4096

# Largest output each model family accepts, most specific prefix first. Until the catalog module
# provides capabilities, this caps the defaults below (a catalog can replace the lookup).
_MAX_OUTPUT: tuple[tuple[str, int], ...] = (
    ("claude-opus-4-7", 128000), ("claude-opus-4-6", 128000), ("claude-opus-4-5", 64000),
    ("claude-opus-4", 32000), ("claude-sonnet-4", 64000), ("claude-haiku-4", 64000),
    ("claude-3-7-sonnet", 64000), ("claude-3-5", 8192), ("claude-3", 4096), ("claude-2", 4096),
)  # fmt: skip

# Models that take ``output_config.effort`` (and reject thinking budgets as the effort knob).
_EFFORT_MODELS = ("claude-opus-4-5", "claude-opus-4-6", "claude-opus-4-7", "claude-sonnet-4-6")
# Models with extended thinking via budget_tokens.
_THINKING_MODELS = ("claude-3-7-sonnet", "claude-sonnet-4", "claude-opus-4", "claude-haiku-4")
_EFFORT_ALIASES = {"minimal": "low"}


def max_output_tokens(model: str) -> int | None:
    for prefix, cap in _MAX_OUTPUT:
        if prefix in model:
            return cap
    return None


def default_max_tokens(model: str) -> int:
    """``max_tokens`` when the client gave none (Anthropic requires one)."""
    cap = max_output_tokens(model)
    return min(DEFAULT_MAX_TOKENS, cap) if cap else DEFAULT_MAX_TOKENS


def reasoning_mode(model: str) -> str | None:
    """How ``reasoning_effort`` reaches this model: ``"effort"``, ``"thinking"`` or ``None``."""
    if any(prefix in model for prefix in _EFFORT_MODELS):
        return "effort"
    if any(prefix in model for prefix in _THINKING_MODELS):
        return "thinking"
    return None


# ---------------------------------------------------------------------------------------------
# Request


def _data_url(url: str) -> tuple[str, str] | None:
    """``data:<mime>;base64,<data>`` → (mime, data)."""
    if not url.startswith("data:"):
        return None
    header, sep, data = url[5:].partition(",")
    if not sep or not header.endswith(";base64"):
        raise BadRequest("only base64 data: URLs are supported for Anthropic media", param="messages")
    return header[: -len(";base64")] or "application/octet-stream", data


def _media_block(url: str) -> dict[str, Any]:
    parsed = _data_url(url)
    if parsed is not None:
        mime, data = parsed
        kind = "document" if mime == "application/pdf" else "image"
        return {"type": kind, "source": {"type": "base64", "media_type": mime, "data": data}}
    if url.startswith(("http://", "https://")):
        kind = "document" if url.lower().split("?")[0].endswith(".pdf") else "image"
        return {"type": kind, "source": {"type": "url", "url": url}}
    raise BadRequest(f"unsupported image URL for Anthropic: {url[:40]!r}", param="messages")


def _part_blocks(content: Any) -> list[dict[str, Any]]:
    """OpenAI message content (string or parts) → Anthropic content blocks."""
    if content is None:
        return []
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    blocks: list[dict[str, Any]] = []
    for part in content:
        kind = part.get("type")
        if kind in ("text", "refusal"):
            text = part.get("text") if kind == "text" else part.get("refusal")
            if not text:  # Anthropic rejects empty text blocks
                continue
            block: dict[str, Any] = {"type": "text", "text": text}
        elif kind == "image_url":
            image = part.get("image_url")
            block = _media_block(image.get("url", "") if isinstance(image, dict) else str(image))
        elif kind == "file":
            file = part.get("file") or {}
            if not file.get("file_data"):
                raise BadRequest("Anthropic needs file content inline (file_data), not file_id", param="messages")
            block = _media_block(file["file_data"])
        elif kind == "input_audio":
            raise BadRequest("Anthropic does not accept audio input", param="messages")
        else:  # already an Anthropic-native block (document, search_result, …): send as is
            blocks.append(dict(part))
            continue
        if part.get("cache_control"):
            block["cache_control"] = part["cache_control"]
        blocks.append(block)
    return blocks


def _assistant_blocks(message: ChatMessage) -> list[dict[str, Any]]:
    # Signed thinking must precede the text/tool_use it led to, exactly as it was returned.
    blocks = [dict(b) for b in message.get("thinking_blocks") or () if isinstance(b, dict)]
    blocks.extend(_part_blocks(message.get("content")))
    for call in message.get("tool_calls") or ():
        function = call.get("function") or {}
        arguments = function.get("arguments") or "{}"
        try:
            tool_input = orjson.loads(arguments) if isinstance(arguments, str) else arguments
        except orjson.JSONDecodeError as exc:
            raise BadRequest(f"tool call {call.get('id')!r} has arguments that are not JSON", param="messages") from exc
        blocks.append({"type": "tool_use", "id": call.get("id"), "name": function.get("name"), "input": tool_input})
    return blocks


def _tool_result_block(message: ChatMessage) -> dict[str, Any]:
    content = message.get("content")
    result: Any = content if isinstance(content, str) else _part_blocks(content)
    return {
        "type": "tool_result",
        "tool_use_id": message.get("tool_call_id"),
        "content": result,
        "is_error": False,
    }


def _system_and_messages(messages: list[ChatMessage]) -> tuple[Any, list[dict[str, Any]]]:
    system_blocks: list[dict[str, Any]] = []
    turns: list[dict[str, Any]] = []
    for message in messages:
        role = message.get("role")
        if role in ("system", "developer"):
            system_blocks.extend(_part_blocks(message.get("content")))
            continue
        if role == "user":
            native_role, blocks = "user", _part_blocks(message.get("content"))
        elif role == "assistant":
            native_role, blocks = "assistant", _assistant_blocks(message)
        elif role == "tool":
            native_role, blocks = "user", [_tool_result_block(message)]
        else:
            raise BadRequest(f"unsupported message role {role!r} for Anthropic", param="messages")
        if not blocks:  # Anthropic rejects empty turns; an empty message carries no meaning
            continue
        if turns and turns[-1]["role"] == native_role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": native_role, "content": blocks})
    system: Any = None
    if system_blocks:
        if any("cache_control" in b or b.get("type") != "text" for b in system_blocks):
            system = system_blocks
        else:
            system = "\n\n".join(b["text"] for b in system_blocks)
    return system, turns


def _tool(tool: Tool) -> dict[str, Any]:
    if tool.get("type", "function") != "function":
        return dict(tool)  # Anthropic-native tool definition
    function = tool.get("function") or {}
    native: dict[str, Any] = {
        "name": function.get("name"),
        "input_schema": function.get("parameters") or {"type": "object", "properties": {}},
    }
    if function.get("description") is not None:
        native["description"] = function["description"]
    if function.get("strict"):
        native["strict"] = True
    if tool.get("cache_control"):
        native["cache_control"] = tool["cache_control"]
    return native


def _tool_choice(choice: Any, parallel: Any) -> dict[str, Any]:
    if choice is None or choice == "auto":
        native: dict[str, Any] = {"type": "auto"}
    elif choice == "none":
        native = {"type": "none"}
    elif choice == "required":
        native = {"type": "any"}
    elif isinstance(choice, dict) and choice.get("type") == "function":
        native = {"type": "tool", "name": (choice.get("function") or {}).get("name")}
    elif isinstance(choice, dict) and choice.get("type") in ("auto", "any", "tool", "none"):
        native = dict(choice)  # already Anthropic-shaped
    else:
        raise BadRequest(f"unsupported tool_choice {choice!r} for Anthropic", param="tool_choice")
    if parallel is False and native["type"] != "none":
        native["disable_parallel_tool_use"] = True
    return native


def _apply_effort(
    body: dict[str, Any],
    output_config: dict[str, Any],
    effort: str,
    explicit_max: Any,
    deployment: Deployment,
) -> None:
    """``reasoning_effort`` → an effort level or a thinking budget, whichever the model takes."""
    mode = deployment.option("reasoning_mode") or reasoning_mode(deployment.model)
    if mode == "effort":
        output_config.setdefault("effort", _EFFORT_ALIASES.get(effort, effort))
        return
    forced_tool = (body.get("tool_choice") or {}).get("type") in ("any", "tool")
    if mode != "thinking" or forced_tool:  # Anthropic refuses thinking together with a forced tool
        return
    budget = THINKING_BUDGETS.get(effort, 4096)
    if explicit_max:  # OpenAI counts reasoning inside max_completion_tokens; Anthropic wants budget < max
        budget = min(budget, int(explicit_max) // 2)
    if budget >= MIN_THINKING_BUDGET:
        body["thinking"] = {"type": "enabled", "budget_tokens": budget}
        # The client asked for reasoning, not for these: thinking rejects modified temperature / top_k.
        body.pop("temperature", None)
        body.pop("top_k", None)


def to_native(request: ChatRequest, deployment: Deployment, stream: bool | None = None) -> dict[str, Any]:
    """The ``/v1/messages`` body for an OpenAI-format request."""
    if (request.get("n") or 1) > 1:
        raise BadRequest("Anthropic returns one choice per request (n must be 1)", param="n")
    model = deployment.model
    system, messages = _system_and_messages(request.get("messages") or [])
    body: dict[str, Any] = {"model": model, "messages": messages}
    if system is not None:
        body["system"] = system
    tools = request.get("tools")
    if tools:
        body["tools"] = [_tool(t) for t in tools]
        body["tool_choice"] = _tool_choice(request.get("tool_choice"), request.get("parallel_tool_calls"))
    for name in ("temperature", "top_p"):
        if request.get(name) is not None:
            body[name] = request[name]
    stop = request.get("stop")
    if stop:
        body["stop_sequences"] = [stop] if isinstance(stop, str) else list(stop)
    if request.get("user"):
        body["metadata"] = {"user_id": request["user"]}
    fields = as_json(request)
    for name in BODY_PASSTHROUGH:
        if fields.get(name) is not None:
            body[name] = fields[name]

    output_config = dict(request.get("output_config") or {})
    response_format = request.get("response_format") or {}
    if response_format.get("type") == "json_schema":
        schema = (response_format.get("json_schema") or {}).get("schema") or {"type": "object"}
        output_config["format"] = {"type": "json_schema", "schema": schema}

    explicit_max = request.get("max_completion_tokens") or request.get("max_tokens")
    effort = request.get("reasoning_effort")
    if effort and effort != "none" and "thinking" not in body:
        _apply_effort(body, output_config, effort, explicit_max, deployment)
    if output_config:
        body["output_config"] = output_config

    if explicit_max:
        body["max_tokens"] = int(explicit_max)
    else:
        max_tokens = default_max_tokens(model)
        thinking = body.get("thinking")
        wanted = thinking.get("budget_tokens") if isinstance(thinking, dict) else None
        if isinstance(wanted, int) and wanted >= max_tokens:
            cap = max_output_tokens(model)
            max_tokens = wanted + DEFAULT_MAX_TOKENS if cap is None else min(wanted + DEFAULT_MAX_TOKENS, cap)
        body["max_tokens"] = max_tokens
    body["stream"] = bool(request.get("stream")) if stream is None else stream
    return body


def native_headers(request: ChatRequest, deployment: Deployment) -> dict[str, str]:
    headers = {"content-type": "application/json", "anthropic-version": API_VERSION}
    if deployment.api_key:
        headers["x-api-key"] = deployment.api_key
    betas = request.get("anthropic_beta") or deployment.option("anthropic_beta")
    if betas:
        headers["anthropic-beta"] = betas if isinstance(betas, str) else ",".join(betas)
    headers.update(deployment.headers)
    return headers


def messages_url(deployment: Deployment) -> str:
    base = (deployment.api_base or DEFAULT_API_BASE).rstrip("/")
    return join_url(base, "messages" if base.endswith("/v1") else "v1/messages")


def build_call(request: ChatRequest, deployment: Deployment, stream: bool) -> Call:
    body = orjson.dumps(to_native(request, deployment, stream=stream))
    return Call(messages_url(deployment), body, native_headers(request, deployment))


# Request fields count_tokens refuses (it counts the prompt; these shape the answer).
_NOT_COUNTED = ("max_tokens", "stream", "metadata", "temperature", "top_p", "top_k", "stop_sequences")


def count_tokens_call(request: ChatRequest, deployment: Deployment) -> Call:
    """``POST /v1/messages/count_tokens`` for the same prompt."""
    native = to_native(request, deployment, stream=False)
    for name in _NOT_COUNTED:
        native.pop(name, None)
    return Call(messages_url(deployment) + "/count_tokens", orjson.dumps(native), native_headers(request, deployment))
