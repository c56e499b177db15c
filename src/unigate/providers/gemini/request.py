"""The canonical request → a Gemini ``generateContent`` / ``streamGenerateContent?alt=sse`` call.

Endpoints:

- Gemini Developer API: ``{api_base or https://generativelanguage.googleapis.com}/v1beta/models/
  {model}:generateContent``, key in ``x-goog-api-key``.
- Vertex AI, when ``deployment.option("vertex_project")`` is set: ``https://{location}-aiplatform.
  googleapis.com/v1beta1/projects/{project}/locations/{location}/publishers/google/models/{model}
  :generateContent`` (``aiplatform.googleapis.com`` for ``global``); ``deployment.api_key`` is sent
  as an OAuth bearer token (the gateway does not mint Google access tokens itself).

Deployment options: ``vertex_project``, ``vertex_location`` (default ``global``), ``schema_mode``
(``"json"``: schemas go out as ``parametersJsonSchema``/``responseJsonSchema``, the default;
``"openapi"``: rewritten into Google's subset as ``parameters``/``responseSchema``, the default
for ``gemini-1.*`` models, which only accept that).

Image/file URLs: ``data:`` URLs become ``inlineData``; any other URL (``https://``, ``gs://``,
YouTube, File API URIs) becomes ``fileData`` with a MIME type guessed from the extension. Vertex
fetches public http(s) and ``gs://`` URLs itself; the Developer API accepts File API URIs and
YouTube links (and public URLs on newer models) and answers 400 otherwise, which surfaces as a
``ProviderError`` with Google's message. The gateway never downloads URLs itself.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from unigate.errors import BadRequest
from unigate.providers.gemini.schema import to_json_schema, to_openapi_schema
from unigate.providers.shell import Call, join_url, segment
from unigate.types import ChatMessage, ChatRequest, Deployment, ToolCall, as_json

DEFAULT_BASE = "https://generativelanguage.googleapis.com"

# Gemini 3 rejects a replayed functionCall without the thought signature it was produced with.
# When the client did not send it back (most OpenAI clients drop unknown fields), Google
# documents the dummy signature b"skip_thought_signature_validator" to skip the check; the field
# is proto ``bytes``, so JSON carries it base64-encoded (exactly what the recordings show).
SKIP_SIGNATURE = "c2tpcF90aG91Z2h0X3NpZ25hdHVyZV92YWxpZGF0b3I="

# reasoning_effort → thinkingBudget for budget-based models (2.5 family).
_BUDGETS = {"none": 0, "minimal": 0, "low": 1024, "medium": 8192, "high": 24576}

_EXT_MIME = {
    "png": "image/png",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "gif": "image/gif",
    "webp": "image/webp",
    "heic": "image/heic",
    "heif": "image/heif",
    "pdf": "application/pdf",
    "txt": "text/plain",
    "md": "text/markdown",
    "html": "text/html",
    "csv": "text/csv",
    "json": "application/json",
    "wav": "audio/wav",
    "mp3": "audio/mp3",
    "aac": "audio/aac",
    "ogg": "audio/ogg",
    "flac": "audio/flac",
    "m4a": "audio/m4a",
    "mp4": "video/mp4",
    "mpeg": "video/mpeg",
    "mov": "video/mov",
    "avi": "video/avi",
    "webm": "video/webm",
    "wmv": "video/wmv",
    "3gp": "video/3gpp",
}


# ---------------------------------------------------------------------------------------------
# Pure translation: request


def guess_mime(url: str, default: str) -> str:
    """MIME type from a URL's extension (no I/O; ``mimetypes`` would read system files)."""
    if "youtube.com/" in url or "youtu.be/" in url:
        return "video/mp4"
    path = url.split("?", 1)[0].split("#", 1)[0]
    name = path.rsplit("/", 1)[-1]
    if "." in name:
        return _EXT_MIME.get(name.rsplit(".", 1)[-1].lower(), default)
    return default


def _split_data_url(url: str) -> tuple[str, str] | None:
    """``data:<mime>;base64,<data>`` → (mime, base64 data)."""
    if not url.startswith("data:"):
        return None
    header, sep, data = url[5:].partition(",")
    if not sep or ";base64" not in header:
        raise BadRequest("only base64 data: URLs are supported", param="messages")
    return header.split(";", 1)[0] or "application/octet-stream", data


def _media_part(url: str, default_mime: str) -> dict[str, Any]:
    inline = _split_data_url(url)
    if inline is not None:
        return {"inlineData": {"mimeType": inline[0], "data": inline[1]}}
    return {"fileData": {"mimeType": guess_mime(url, default_mime), "fileUri": url}}


def _text_of(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    return "".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")


def _user_parts(content: Any) -> list[dict[str, Any]]:
    if content is None:
        return []
    if isinstance(content, str):
        return [{"text": content}]
    parts: list[dict[str, Any]] = []
    for item in content:
        kind = item.get("type")
        if kind == "text":
            parts.append({"text": item.get("text", "")})
        elif kind == "image_url":
            image = item.get("image_url")
            url = image.get("url") if isinstance(image, dict) else image
            parts.append(_media_part(str(url), "image/jpeg"))
        elif kind == "input_audio":
            audio = item.get("input_audio") or {}
            parts.append(
                {
                    "inlineData": {
                        "mimeType": "audio/" + str(audio.get("format", "wav")),
                        "data": audio.get("data", ""),
                    }
                }
            )
        elif kind == "file":
            file = item.get("file") or {}
            if file.get("file_data"):
                parts.append(_media_part(str(file["file_data"]), "application/pdf"))
            elif file.get("file_id") or file.get("url"):
                uri = str(file.get("file_id") or file.get("url"))
                parts.append({"fileData": {"mimeType": guess_mime(uri, "application/pdf"), "fileUri": uri}})
            else:
                raise BadRequest("file content part needs file_data or file_id", param="messages")
        else:
            raise BadRequest(f"gemini: unsupported content part type {kind!r}", param="messages")
    return parts


def _tool_call_signature(call: ToolCall) -> str | None:
    # Google's own OpenAI-compatible API carries the signature here; we emit the same shape.
    extra = call.get("extra_content")
    if isinstance(extra, dict):
        google = extra.get("google")
        if isinstance(google, dict) and google.get("thought_signature"):
            return str(google["thought_signature"])
    return None


def _assistant_parts(message: ChatMessage) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    reasoning = message.get("reasoning_content")
    if isinstance(reasoning, str) and reasoning:
        parts.append({"text": reasoning, "thought": True})
    text = _text_of(message.get("content"))
    calls = message.get("tool_calls") or []
    if text or not calls:
        parts.append({"text": text})
    first_call = True
    for call in calls:
        function = call.get("function") or {}
        raw_args = function.get("arguments") or "{}"
        try:
            args = orjson.loads(raw_args) if isinstance(raw_args, str) else raw_args
        except orjson.JSONDecodeError as exc:
            raise BadRequest(f"tool call arguments are not valid JSON: {raw_args[:200]!r}") from exc
        fc: dict[str, Any] = {
            "name": function.get("name", ""),
            "args": args if isinstance(args, dict) else {},
        }
        if call.get("id"):
            fc["id"] = call["id"]
        part: dict[str, Any] = {"functionCall": fc}
        signature = _tool_call_signature(call)
        if signature or first_call:
            part["thoughtSignature"] = signature or SKIP_SIGNATURE
        first_call = False
        parts.append(part)
    return parts


def _contents(messages: list[ChatMessage]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """OpenAI messages → (systemInstruction parts, contents) with same-role turns merged."""
    system: list[dict[str, Any]] = []
    contents: list[dict[str, Any]] = []
    call_names: dict[str, str] = {}

    def add(role: str, parts: list[dict[str, Any]]) -> None:
        if contents and contents[-1]["role"] == role:
            contents[-1]["parts"].extend(parts)  # Gemini wants user/model turns to alternate
        else:
            contents.append({"role": role, "parts": list(parts)})

    for message in messages:
        role = message.get("role")
        if role in ("system", "developer"):
            text = _text_of(message.get("content"))
            if text:
                system.append({"text": text})
        elif role == "user":
            add("user", _user_parts(message.get("content")))
        elif role == "assistant":
            for call in message.get("tool_calls") or ():
                if call.get("id"):
                    call_names[call["id"]] = (call.get("function") or {}).get("name", "")
            add("model", _assistant_parts(message))
        elif role in ("tool", "function"):
            call_id = message.get("tool_call_id")
            name = message.get("name") or call_names.get(call_id or "")
            if not name:
                raise BadRequest(
                    f"tool message {call_id!r} does not answer a preceding assistant tool call",
                    param="messages",
                )
            response: dict[str, Any] = {
                "name": name,
                "response": {"return_value": _text_of(message.get("content"))},
            }
            if call_id:
                response["id"] = call_id
            add("user", [{"functionResponse": response}])
        else:
            raise BadRequest(f"unsupported message role {role!r}", param="messages")
    return system, contents


def _schema_mode(deployment: Deployment) -> str:
    mode = deployment.option("schema_mode")
    if mode in ("json", "openapi"):
        return str(mode)
    return "openapi" if deployment.model.startswith("gemini-1") else "json"


def _tools(request: ChatRequest, mode: str) -> list[dict[str, Any]]:
    declarations = []
    for tool in request.get("tools") or ():
        if tool.get("type", "function") != "function":
            raise BadRequest(f"gemini: unsupported tool type {tool.get('type')!r}", param="tools")
        function = tool.get("function") or {}
        declaration: dict[str, Any] = {
            "name": function.get("name", ""),
            "description": function.get("description") or "",
        }
        schema = function.get("parameters") or {"type": "object", "properties": {}}
        if mode == "json":
            declaration["parametersJsonSchema"] = to_json_schema(schema)
        else:
            declaration["parameters"] = to_openapi_schema(schema)
        declarations.append(declaration)
    return [{"functionDeclarations": declarations}] if declarations else []


def _tool_config(request: ChatRequest, tools: list[dict[str, Any]]) -> dict[str, Any] | None:
    choice = request.get("tool_choice")
    if choice is None or not tools:
        return None
    names = [d["name"] for d in tools[0]["functionDeclarations"]]
    if choice == "none":
        config: dict[str, Any] = {"mode": "NONE"}
    elif choice == "auto":
        config = {"mode": "AUTO"}
    elif choice == "required":
        config = {"mode": "ANY", "allowedFunctionNames": names}
    elif isinstance(choice, dict):
        name = (choice.get("function") or {}).get("name")
        if not name:
            raise BadRequest("tool_choice object needs function.name", param="tool_choice")
        config = {"mode": "ANY", "allowedFunctionNames": [name]}
    else:
        raise BadRequest(f"unsupported tool_choice {choice!r}", param="tool_choice")
    return {"functionCallingConfig": config}


def _thinking_config(request: ChatRequest, model: str) -> dict[str, Any] | None:
    passthrough = request.get("thinking_config")
    if isinstance(passthrough, dict):
        # Snake-case keys from clients (thinking_budget, include_thoughts) → the REST spelling.
        return {_camel(k): v for k, v in passthrough.items()}
    thinking = request.get("thinking")
    if isinstance(thinking, dict):  # the Anthropic-style {"type": "enabled", "budget_tokens": N}
        if thinking.get("type") == "disabled":
            return {"thinkingBudget": 0}
        config: dict[str, Any] = {"includeThoughts": True}
        if thinking.get("budget_tokens") is not None:
            config["thinkingBudget"] = int(thinking["budget_tokens"])
        return config
    effort = request.get("reasoning_effort")
    if not isinstance(effort, str):
        return None
    if "gemini-3" in model:
        # Gemini 3 takes a level, not a budget.
        return {
            "thinkingLevel": "low" if effort in ("none", "minimal", "low") else "high",
            "includeThoughts": True,
        }
    budget = _BUDGETS.get(effort)
    if budget is None:
        raise BadRequest(f"unsupported reasoning_effort {effort!r}", param="reasoning_effort")
    if budget == 0:
        # 2.5 Pro cannot turn thinking off; 128 is its minimum budget.
        return {"thinkingBudget": 128 if "pro" in model else 0}
    return {"thinkingBudget": budget, "includeThoughts": True}


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


def _generation_config(request: ChatRequest, deployment: Deployment, mode: str) -> dict[str, Any]:
    config: dict[str, Any] = {}
    simple = (
        ("temperature", "temperature"),
        ("top_p", "topP"),
        ("top_k", "topK"),
        ("seed", "seed"),
        ("presence_penalty", "presencePenalty"),
        ("frequency_penalty", "frequencyPenalty"),
        ("n", "candidateCount"),
    )
    fields = as_json(request)
    for ours, theirs in simple:
        if fields.get(ours) is not None:
            config[theirs] = fields[ours]
    max_tokens = request.get("max_completion_tokens") or request.get("max_tokens")
    if max_tokens is not None:
        config["maxOutputTokens"] = max_tokens
    stop = request.get("stop")
    if stop:
        config["stopSequences"] = [stop] if isinstance(stop, str) else list(stop)
    if request.get("logprobs"):
        config["responseLogprobs"] = True
        if request.get("top_logprobs") is not None:
            config["logprobs"] = request["top_logprobs"]
    response_format = request.get("response_format")
    if isinstance(response_format, dict):
        kind = response_format.get("type")
        if kind == "json_object":
            config["responseMimeType"] = "application/json"
        elif kind == "json_schema":
            config["responseMimeType"] = "application/json"
            schema = (response_format.get("json_schema") or {}).get("schema") or {}
            if mode == "json":
                config["responseJsonSchema"] = to_json_schema(schema)
            else:
                config["responseSchema"] = to_openapi_schema(schema)
    thinking = _thinking_config(request, deployment.model)
    if thinking is not None:
        config["thinkingConfig"] = thinking
    return config


def to_native(request: ChatRequest, deployment: Deployment) -> dict[str, Any]:
    """An OpenAI chat request → a ``GenerateContentRequest`` body (same for streaming)."""
    mode = _schema_mode(deployment)
    system, contents = _contents(request.get("messages") or [])
    if not contents:
        raise BadRequest("gemini needs at least one user or assistant message", param="messages")
    body: dict[str, Any] = {"contents": contents}
    if system:
        body["systemInstruction"] = {"parts": system}
    tools = _tools(request, mode)
    if tools:
        body["tools"] = tools
        tool_config = _tool_config(request, tools)
        if tool_config is not None:
            body["toolConfig"] = tool_config
    body["generationConfig"] = _generation_config(request, deployment, mode)
    safety = deployment.option("safety_settings")
    if safety:
        body["safetySettings"] = list(safety)
    return body


_LOCATION = re.compile(r"[a-z0-9-]+")


def native_url(deployment: Deployment, stream: bool) -> str:
    method = "streamGenerateContent?alt=sse" if stream else "generateContent"
    model = segment(deployment.model)  # client-chosen ("gemini/<model>"): one path segment
    project = deployment.option("vertex_project")
    if project:
        location = str(deployment.option("vertex_location") or "global")
        if not _LOCATION.fullmatch(location):  # it becomes part of the host name
            raise BadRequest(f"invalid vertex_location {location!r}", param="model")
        host = "aiplatform.googleapis.com" if location == "global" else f"{location}-aiplatform.googleapis.com"
        base = deployment.api_base or f"https://{host}"
        path = (
            f"v1beta1/projects/{segment(str(project))}/locations/{location}/publishers/google/models/{model}:{method}"
        )
        return join_url(base, path)
    return join_url(deployment.api_base or DEFAULT_BASE, f"v1beta/models/{model}:{method}")


def native_headers(deployment: Deployment) -> dict[str, str]:
    headers = {"content-type": "application/json"}
    if deployment.api_key:
        if deployment.option("vertex_project"):
            headers["authorization"] = "Bearer " + deployment.api_key
        else:
            headers["x-goog-api-key"] = deployment.api_key
    headers.update(deployment.headers)
    return headers


def build_call(request: ChatRequest, deployment: Deployment, stream: bool) -> Call:
    body = orjson.dumps(to_native(request, deployment))
    return Call(native_url(deployment, stream), body, native_headers(deployment))
