"""Wire formats of the recorded APIs, read *backwards*: for a recorded native request, the
OpenAI-format request with the same meaning (plus the deployment that must serve it), the
normalization that drops what carries no meaning, and what the client must get from the
recorded reply.

Nothing here knows about individual recording files: every mapping is a translation of the
format (``reverse``), so a recording the suite has never seen is checked the same way. The
per-provider unit tests hold parts of this knowledge already (Bedrock's ``openai_request`` /
``normalize``, Gemini's ``normalize``); they are imported, not copied. The Anthropic direction
reuses the gateway's own inbound translator (``unigate.providers.anthropic.inbound``), which is
exactly "an Anthropic request → the OpenAI request with its meaning".
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

from botocore.eventstream import EventStreamBuffer

from tests.providers.bedrock import support as bedrock_support
from tests.providers.gemini import support as gemini_support
from unigate.providers.anthropic.inbound import to_openai as anthropic_to_openai
from unigate.providers.gemini import SKIP_SIGNATURE, guess_mime
from unigate.providers.openai_compat import COMPAT_PROVIDERS


@dataclass
class Target:
    """The OpenAI-format request (without ``model``) and the deployment that must serve it."""

    request: dict[str, Any]
    provider: str
    model: str
    stream: bool
    base_path: str = ""  # appended to the replay upstream's URL to form api_base
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class Expected:
    """What the client must get: an error (``error_status``; ``0`` = inside the stream) or a message."""

    text: str = ""
    reasoning: str = ""
    calls: list[tuple[str, Any]] = field(default_factory=list)  # (name, parsed arguments or None)
    finish: str | None = "stop"
    prompt: int | None = None
    completion: int | None = None
    cached: int = 0
    total: int | None = None  # when the upstream reports its own total (e.g. including hidden tokens)
    error_status: int | None = None
    error_text: str = ""


def _response_body(response: dict[str, Any]) -> Any:
    if "parsed_body" in response:
        return response["parsed_body"]
    body = response.get("body")
    return body.get("string") if isinstance(body, dict) else body


def _json_or_none(value: Any) -> Any:
    if isinstance(value, bytes):
        try:
            value = value.decode()
        except UnicodeDecodeError:
            return None
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return None
    return value


def _sse_payloads(raw: str | bytes) -> list[tuple[str | None, str]]:
    text = raw.decode() if isinstance(raw, bytes) else raw
    events = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        name, data = None, []
        for line in block.split("\n"):
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].lstrip())
        if data:
            events.append((name, "\n".join(data)))
    return events


def _error_expected(status: int, body: Any) -> Expected:
    """Upstream 4xx keeps its status (401/403 become 502: the client's own key was fine); 5xx → 502."""
    gateway_status = status if 400 <= status < 500 and status not in (401, 403) else 502
    message = ""
    parsed = _json_or_none(body)
    if isinstance(parsed, dict):
        error = parsed.get("error", parsed)
        message = str(error.get("message") or error.get("Message") or "") if isinstance(error, dict) else str(error)
    return Expected(finish=None, error_status=gateway_status, error_text=message)


# ---------------------------------------------------------------------------------------------
# OpenAI chat completions (and every OpenAI-compatible provider): near identity

_OPENAI_FINISH = {"stop", "length", "tool_calls", "content_filter", "function_call"}


def _compat_provider(uri: str, folder: str) -> str:
    host = urlsplit(uri).hostname or ""
    for name, row in COMPAT_PROVIDERS.items():
        if row.base_url and urlsplit(row.base_url).hostname == host and not row.local:
            return name
    return folder if folder in COMPAT_PROVIDERS else "openai"


def openai_reverse(body: dict[str, Any], uri: str, folder: str) -> Target:
    path = urlsplit(uri).path
    request = {k: v for k, v in body.items() if k != "model"}
    stream = bool(request.pop("stream", False))
    return Target(
        request,
        _compat_provider(uri, folder),
        body["model"],
        stream,
        base_path=path.removesuffix("/chat/completions"),
    )


def openai_normalize(body: dict[str, Any]) -> dict[str, Any]:
    """The gateway always asks a stream for usage (to account for it): that option is not meaning."""
    body = copy.deepcopy(body)
    if body.get("stream") is False:
        del body["stream"]
    options = body.get("stream_options")
    if isinstance(options, dict):
        options.pop("include_usage", None)
        if not options:
            del body["stream_options"]
    return body


def _openai_usage(expected: Expected, usage: dict[str, Any] | None) -> None:
    if usage:
        expected.prompt = usage.get("prompt_tokens")
        expected.completion = usage.get("completion_tokens")
        expected.cached = int((usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0)
        expected.total = usage.get("total_tokens")


def openai_expected(response: dict[str, Any]) -> Expected:
    status = int(response["status"]["code"])
    body = _response_body(response)
    if status >= 400:
        return _error_expected(status, body)
    parsed = _json_or_none(body)
    if isinstance(parsed, dict) and isinstance(parsed.get("choices"), list):
        choice = parsed["choices"][0]
        message = choice.get("message") or {}
        calls = [
            (c["function"]["name"], _json_or_none(c["function"].get("arguments") or "{}"))
            for c in message.get("tool_calls") or ()
        ]
        expected = Expected(
            text=message.get("content") or "",
            reasoning=message.get("reasoning_content") or message.get("reasoning") or "",
            calls=calls,
            finish=choice.get("finish_reason"),
        )
        _openai_usage(expected, parsed.get("usage"))
        return expected
    if not isinstance(body, str | bytes) or parsed is not None:  # a 200 that is no chat completion
        return Expected(finish=None, error_status=502)
    payloads = _sse_payloads(body)
    if not payloads:
        return Expected(finish=None, error_status=502)
    expected = Expected(finish=None)
    args: dict[int, dict[str, Any]] = {}
    for _name, data in payloads:
        if data == "[DONE]":
            break
        chunk = json.loads(data)
        if chunk.get("error"):
            error = chunk["error"]
            return Expected(finish=None, error_status=0, error_text=str(error.get("message", "")))
        for choice in chunk.get("choices") or ():
            delta = choice.get("delta") or {}
            expected.text += delta.get("content") or ""
            expected.reasoning += delta.get("reasoning_content") or delta.get("reasoning") or ""
            for call in delta.get("tool_calls") or ():
                slot = args.setdefault(call.get("index", 0), {"name": "", "arguments": ""})
                function = call.get("function") or {}
                slot["name"] += function.get("name") or ""
                slot["arguments"] += function.get("arguments") or ""
            expected.finish = choice.get("finish_reason") or expected.finish
        _openai_usage(expected, chunk.get("usage"))
    expected.calls = [(s["name"], _json_or_none(s["arguments"] or "{}")) for _, s in sorted(args.items())]
    return expected


# ---------------------------------------------------------------------------------------------
# Anthropic Messages

_ANTHROPIC_FINISH = {
    "end_turn": "stop", "stop_sequence": "stop", "pause_turn": "stop", "max_tokens": "length",
    "model_context_window_exceeded": "length", "tool_use": "tool_calls", "refusal": "content_filter",
}  # fmt: skip


def anthropic_reverse(body: dict[str, Any], uri: str, folder: str) -> Target:
    request = anthropic_to_openai(body, frozenset({"anthropic"}))
    request.pop("model")
    stream = bool(request.pop("stream", False))
    request.pop("stream_options", None)
    return Target(request, "anthropic", body["model"], stream)


def anthropic_stream_message(raw: str | bytes) -> dict[str, Any]:
    """Fold a recorded Anthropic SSE body into the message it describes."""
    message: dict[str, Any] = {"content": [], "usage": {}}
    for name, data in _sse_payloads(raw):
        payload = json.loads(data)
        kind = payload.get("type") or name
        if kind == "message_start":
            message = copy.deepcopy(payload["message"])
        elif kind == "content_block_start":
            message["content"].append(dict(payload["content_block"]))
        elif kind == "content_block_delta":
            target, delta = message["content"][payload["index"]], payload["delta"]
            if delta["type"] == "input_json_delta":
                target["_json"] = target.get("_json", "") + delta["partial_json"]
            key = {"text_delta": "text", "thinking_delta": "thinking", "signature_delta": "signature"}.get(
                delta["type"]
            )
            if key:
                target[key] = target.get(key, "") + delta[key]
        elif kind == "message_delta":
            message.update(payload["delta"])
            message["usage"].update({k: v for k, v in (payload.get("usage") or {}).items() if v is not None})
        elif kind == "error":
            message["error"] = payload["error"]
    for block in message["content"]:
        if "_json" in block:
            block["input"] = json.loads(block.pop("_json") or "{}")
    return message


def anthropic_expected(response: dict[str, Any]) -> Expected:
    status = int(response["status"]["code"])
    body = _response_body(response)
    if status >= 400:
        return _error_expected(status, body)
    message = body if isinstance(body, dict) else anthropic_stream_message(body)
    if "error" in message:
        return Expected(finish=None, error_status=0, error_text=message["error"].get("message", ""))
    blocks = message["content"]
    usage = message.get("usage") or {}
    cache_read = int(usage.get("cache_read_input_tokens") or 0)
    cache_write = int(usage.get("cache_creation_input_tokens") or 0)
    return Expected(
        text="".join(b.get("text", "") for b in blocks if b["type"] == "text"),
        reasoning="".join(b.get("thinking", "") for b in blocks if b["type"] == "thinking"),
        calls=[(b["name"], b.get("input") or {}) for b in blocks if b["type"] == "tool_use"],
        finish=_ANTHROPIC_FINISH.get(message.get("stop_reason") or "", "stop"),
        prompt=int(usage.get("input_tokens") or 0) + cache_read + cache_write,
        completion=int(usage.get("output_tokens") or 0),
        cached=cache_read,
    )


# ---------------------------------------------------------------------------------------------
# Gemini generateContent (Developer API and Vertex AI)


def _gemini_user_part(part: dict[str, Any]) -> dict[str, Any]:
    if "text" in part:
        return {"type": "text", "text": part["text"]}
    inline = part.get("inlineData") or part.get("inline_data")
    if inline:
        mime = inline.get("mimeType") or inline.get("mime_type")
        url = f"data:{mime};base64,{inline['data']}"
        if mime.startswith("image/"):
            return {"type": "image_url", "image_url": {"url": url}}
        return {"type": "file", "file": {"file_data": url}}
    data = part.get("fileData") or part.get("file_data")
    if data:
        uri = data.get("fileUri") or data.get("file_uri")
        mime = data.get("mimeType") or data.get("mime_type")
        if mime.startswith("image/") and guess_mime(uri, "image/jpeg") == mime:
            return {"type": "image_url", "image_url": {"url": uri}}
        return {"type": "file", "file": {"file_id": uri}}
    raise ValueError(f"gemini part not expressible as OpenAI content: {sorted(part)}")


def _gemini_messages(body: dict[str, Any]) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    for part in (body.get("systemInstruction") or {}).get("parts") or ():
        messages.append({"role": "system", "content": part.get("text", "")})
    call_ids = 0
    pending: list[str] = []  # ids given to functionCalls that had none, answered in order
    for content in body.get("contents") or ():
        parts = content.get("parts") or []
        if content.get("role") == "model":
            message: dict[str, Any] = {"role": "assistant", "content": None}
            thoughts = "".join(p.get("text", "") for p in parts if p.get("thought"))
            texts = [p["text"] for p in parts if "text" in p and not p.get("thought")]
            if thoughts:
                message["reasoning_content"] = thoughts
            if texts:
                message["content"] = "".join(texts)
            calls = []
            for p in parts:
                fc = p.get("functionCall") or p.get("function_call")
                if not fc:
                    continue
                if fc.get("id"):
                    call_id = fc["id"]
                else:
                    call_ids += 1
                    call_id = f"call_{call_ids}"
                    pending.append(call_id)
                call: dict[str, Any] = {
                    "id": call_id,
                    "type": "function",
                    "function": {"name": fc["name"], "arguments": json.dumps(fc.get("args") or {})},
                }
                signature = p.get("thoughtSignature") or p.get("thought_signature")
                if signature:
                    call["extra_content"] = {"google": {"thought_signature": signature}}
                calls.append(call)
            if calls:
                message["tool_calls"] = calls
            messages.append(message)
            continue
        user_parts = []
        for p in parts:
            fr = p.get("functionResponse") or p.get("function_response")
            if fr:
                response = fr.get("response") or {}
                value = response.get("return_value", response) if isinstance(response, dict) else response
                call_id = fr.get("id") or (pending.pop(0) if pending else f"call_{fr['name']}")
                messages.append(
                    {
                        "role": "tool",
                        "tool_call_id": call_id,
                        "name": fr["name"],
                        "content": value if isinstance(value, str) else json.dumps(value),
                    }
                )
            else:
                user_parts.append(_gemini_user_part(p))
        if user_parts:
            only_text = len(user_parts) == 1 and user_parts[0]["type"] == "text"
            messages.append({"role": "user", "content": user_parts[0]["text"] if only_text else user_parts})
    return messages


def _gemini_tools(body: dict[str, Any]) -> list[dict[str, Any]]:
    tools = body.get("tools") or []
    return [tools] if isinstance(tools, dict) else list(tools)  # proto JSON takes one for a list


def gemini_reverse(body: dict[str, Any], uri: str, folder: str) -> Target:
    split = urlsplit(uri)
    path = unquote(split.path)
    model_and_method = path.split("/models/", 1)[1]
    model, method = model_and_method.rsplit(":", 1)
    options: dict[str, Any] = {}
    if "/projects/" in path:
        segments = path.split("/")
        options["vertex_project"] = segments[segments.index("projects") + 1]
        options["vertex_location"] = segments[segments.index("locations") + 1]
    request: dict[str, Any] = {"messages": _gemini_messages(body)}
    config = body.get("generationConfig") or body.get("generation_config") or {}
    for theirs, ours in (
        ("temperature", "temperature"), ("topP", "top_p"), ("topK", "top_k"), ("seed", "seed"),
        ("presencePenalty", "presence_penalty"), ("frequencyPenalty", "frequency_penalty"),
        ("candidateCount", "n"), ("maxOutputTokens", "max_tokens"), ("stopSequences", "stop"),
    ):  # fmt: skip
        if theirs in config:
            request[ours] = config[theirs]
    openapi = False
    if config.get("responseMimeType") == "application/json":
        schema = config.get("responseJsonSchema")
        if schema is None and "responseSchema" in config:
            schema, openapi = config["responseSchema"], True
        if schema is None:
            request["response_format"] = {"type": "json_object"}
        else:
            request["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": schema.get("title", "output"), "schema": schema},
            }
    if "thinkingConfig" in config:
        request["thinking_config"] = config["thinkingConfig"]
    declarations = [
        d
        for tool in _gemini_tools(body)
        for d in tool.get("functionDeclarations") or tool.get("function_declarations") or ()
    ]
    if declarations:
        tools = []
        for d in declarations:
            schema = d.get("parametersJsonSchema") or d.get("parameters_json_schema")
            if schema is None and "parameters" in d:
                schema, openapi = d["parameters"], True
            function = {"name": d["name"], "description": d.get("description", ""), "parameters": schema}
            tools.append({"type": "function", "function": function})
        request["tools"] = tools
        calling = (body.get("toolConfig") or {}).get("functionCallingConfig") or {}
        mode, allowed = calling.get("mode"), calling.get("allowedFunctionNames")
        if mode in ("AUTO", "VALIDATED"):
            request["tool_choice"] = "auto"
        elif mode == "NONE":
            request["tool_choice"] = "none"
        elif mode == "ANY" and allowed and len(allowed) == 1 and len(declarations) > 1:
            request["tool_choice"] = {"type": "function", "function": {"name": allowed[0]}}
        elif mode == "ANY":
            request["tool_choice"] = "required"
    if openapi:
        options["schema_mode"] = "openapi"
    if body.get("safetySettings"):
        options["safety_settings"] = body["safetySettings"]
    base = path.split("/v1beta", 1)[0]
    return Target(request, "gemini", model, method.startswith("streamGenerateContent"), base, options)


def _lower_types(schema: Any) -> Any:
    """OpenAPI-subset schemas: Google's Type enum is case-insensitive ("OBJECT" == "object")."""
    if isinstance(schema, dict):
        return {k: (v.lower() if k == "type" and isinstance(v, str) else _lower_types(v)) for k, v in schema.items()}
    if isinstance(schema, list):
        return [_lower_types(v) for v in schema]
    return schema


def gemini_normalize(body: dict[str, Any]) -> dict[str, Any]:
    body = copy.deepcopy(body)
    if "tools" in body:
        body["tools"] = [
            {("functionDeclarations" if k == "function_declarations" else k): v for k, v in tool.items()}
            for tool in _gemini_tools(body)
        ]
    body = gemini_support.normalize(body)
    body.setdefault("generationConfig", {})
    for tool in body.get("tools", []):
        for declaration in tool.get("functionDeclarations", []):
            if not declaration.get("description"):
                declaration.pop("description", None)
            if "parameters" in declaration:
                declaration["parameters"] = _lower_types(declaration["parameters"])
    config = body["generationConfig"]
    if "responseSchema" in config:
        config["responseSchema"] = _lower_types(config["responseSchema"])
    calling = (body.get("toolConfig") or {}).get("functionCallingConfig") or {}
    if calling.get("mode") == "ANY":
        names = [d["name"] for t in body.get("tools", []) for d in t.get("functionDeclarations", [])]
        if calling.get("allowedFunctionNames") == names:
            del calling["allowedFunctionNames"]
    for content in body.get("contents", []):
        for part in content["parts"]:
            # A functionCall always goes out with a signature (the real one or Google's documented
            # "skip" value); text-part signatures are not replayed. Neither is meaning.
            if part.get("thoughtSignature") == gemini_support._b64(SKIP_SIGNATURE) or "text" in part:
                part.pop("thoughtSignature", None)
            for key in ("functionCall", "functionResponse"):
                if key in part and str(part[key].get("id", "")).startswith("call_"):
                    part[key].pop("id")  # ids the reverse mapping had to invent
    return body


_GEMINI_FINISH = {
    "STOP": "stop", "MAX_TOKENS": "length", "SAFETY": "content_filter", "RECITATION": "content_filter",
    "BLOCKLIST": "content_filter", "PROHIBITED_CONTENT": "content_filter", "SPII": "content_filter",
    "IMAGE_SAFETY": "content_filter",
}  # fmt: skip


def gemini_expected(response: dict[str, Any]) -> Expected:
    status = int(response["status"]["code"])
    body = _response_body(response)
    if status >= 400:
        return _error_expected(status, body)
    events = [body] if isinstance(body, dict) else [json.loads(d) for _, d in _sse_payloads(body)]
    expected = Expected(finish=None)
    meta: dict[str, Any] = {}
    native_finish = None
    for event in events:
        meta = event.get("usageMetadata") or meta
        for candidate in event.get("candidates") or ()[:1]:
            native_finish = candidate.get("finishReason") or native_finish
            for part in (candidate.get("content") or {}).get("parts") or ():
                if "functionCall" in part:
                    expected.calls.append((part["functionCall"]["name"], part["functionCall"].get("args", {})))
                elif part.get("thought"):
                    expected.reasoning += part.get("text", "")
                else:
                    expected.text += part.get("text", "")
    finish = _GEMINI_FINISH.get(native_finish or "STOP", "stop")
    expected.finish = "tool_calls" if expected.calls and finish == "stop" else finish
    expected.prompt = meta.get("promptTokenCount", 0)
    expected.completion = meta.get("candidatesTokenCount", 0) + meta.get("thoughtsTokenCount", 0)
    expected.cached = meta.get("cachedContentTokenCount", 0)
    return expected


# ---------------------------------------------------------------------------------------------
# Bedrock Converse / ConverseStream


def bedrock_reverse(body: dict[str, Any], uri: str, folder: str) -> Target:
    split = urlsplit(uri)
    model = unquote(split.path.split("/model/", 1)[1].rsplit("/", 1)[0])
    region = (split.hostname or "").split("bedrock-runtime.", 1)[1].split(".", 1)[0]
    request = bedrock_support.openai_request(body)
    options: dict[str, Any] = {"region": region}
    extra = dict(body.get("additionalModelRequestFields") or {})
    if "top_k" in extra:
        request["top_k"] = extra.pop("top_k")
    nested = extra.get("inferenceConfig")
    if isinstance(nested, dict) and "topK" in nested:
        request["top_k"] = nested.pop("topK")
        if not nested:
            del extra["inferenceConfig"]
    if "thinking" in extra:
        request["thinking"] = extra.pop("thinking")
    for key in ("reasoning_config", "reasoning_effort"):
        if isinstance(extra.get(key), str):
            request["reasoning_effort"] = extra.pop(key)
    if extra:  # model-specific fields with no OpenAI equivalent: deployment configuration
        options["additional_model_request_fields"] = extra
    if body.get("guardrailConfig"):
        options["guardrail_config"] = body["guardrailConfig"]
    if (body.get("performanceConfig") or {}).get("latency"):
        options["performance_latency"] = body["performanceConfig"]["latency"]
    if (body.get("serviceTier") or {}).get("type"):
        request["service_tier"] = body["serviceTier"]["type"]
    return Target(request, "bedrock", model, split.path.endswith("/converse-stream"), options=options)


def bedrock_expected(response: dict[str, Any]) -> Expected:
    status = int(response["status"]["code"])
    body = _response_body(response)
    if status >= 400:
        return _error_expected(status, body)
    raw = body if isinstance(body, bytes) else None
    if raw is not None:
        buffer = EventStreamBuffer()
        buffer.add_data(raw)
        kinds = [str(m.headers.get(":message-type")) for m in buffer]
        if "exception" in kinds:
            return Expected(finish=None, error_status=0)
    got = bedrock_support._expected({"response": response})
    return Expected(
        text=got["text"],
        reasoning=got["reasoning"],
        calls=got["calls"],
        finish=got["finish"],
        prompt=got["prompt"],
        completion=got["completion"],
        cached=got["cached"],
    )


# ---------------------------------------------------------------------------------------------
# Cohere v2 chat


def _cohere_text(content: Any) -> Any:
    if isinstance(content, list):
        texts = [c for c in content if c.get("type") == "text"]
        return texts[0]["text"] if len(texts) == 1 else [{"type": "text", "text": c["text"]} for c in texts]
    return content


def cohere_reverse(body: dict[str, Any], uri: str, folder: str) -> Target:
    messages = []
    for message in body["messages"]:
        role = message["role"]
        if role == "assistant":
            out: dict[str, Any] = {"role": "assistant", "content": None}
            content = message.get("content")
            if isinstance(content, list):
                thinking = "".join(c.get("thinking", "") for c in content if c.get("type") == "thinking")
                text = "".join(c.get("text", "") for c in content if c.get("type") == "text")
                if thinking:
                    out["reasoning_content"] = thinking
                out["content"] = text
            elif content is not None:
                out["content"] = content
            if message.get("tool_calls"):
                out["tool_calls"] = message["tool_calls"]
                out["content"] = message.get("tool_plan")
            messages.append(out)
        elif role == "tool":
            messages.append(
                {"role": "tool", "tool_call_id": message["tool_call_id"], "content": _cohere_text(message["content"])}
            )
        else:
            messages.append({"role": role, "content": _cohere_text(message["content"])})
    request: dict[str, Any] = {"messages": messages}
    for theirs, ours in (("temperature", "temperature"), ("p", "top_p"), ("k", "top_k"), ("seed", "seed"),
                         ("frequency_penalty", "frequency_penalty"), ("presence_penalty", "presence_penalty"),
                         ("max_tokens", "max_tokens"), ("stop_sequences", "stop"), ("thinking", "thinking")):  # fmt: skip
        if theirs in body:
            request[ours] = body[theirs]
    if body.get("tools"):
        request["tools"] = [
            {
                "type": "function",
                "function": {**t["function"], **({"strict": True} if body.get("strict_tools") else {})},
            }
            for t in body["tools"]
        ]
        choice = body.get("tool_choice")
        if choice == "REQUIRED":
            request["tool_choice"] = "required"
        elif choice == "NONE":
            request["tool_choice"] = "none"
    response_format = body.get("response_format")
    if isinstance(response_format, dict) and response_format.get("json_schema"):
        request["response_format"] = {
            "type": "json_schema",
            "json_schema": {"name": "output", "schema": response_format["json_schema"]},
        }
    elif response_format:
        request["response_format"] = {"type": "json_object"}
    path = urlsplit(uri).path
    return Target(request, "cohere", body["model"], bool(body.get("stream")), base_path=path.removesuffix("/v2/chat"))


_COHERE_FINISH = {"COMPLETE": "stop", "STOP_SEQUENCE": "stop", "MAX_TOKENS": "length", "TOOL_CALL": "tool_calls"}


def cohere_expected(response: dict[str, Any]) -> Expected:
    status = int(response["status"]["code"])
    body = _response_body(response)
    if status >= 400:
        return _error_expected(status, body)
    message = body.get("message") or {}
    content = message.get("content") or []
    usage = body.get("usage") or {}
    billed = usage.get("billed_units") or usage.get("tokens") or {}
    return Expected(
        text="".join(c.get("text", "") for c in content if c.get("type") == "text"),
        reasoning="".join(c.get("thinking", "") for c in content if c.get("type") == "thinking"),
        calls=[
            (c["function"]["name"], _json_or_none(c["function"].get("arguments") or "{}"))
            for c in message.get("tool_calls") or ()
        ],
        finish=_COHERE_FINISH.get(body.get("finish_reason") or "", "stop"),
        prompt=int(billed.get("input_tokens") or 0),
        completion=int(billed.get("output_tokens") or 0),
    )


# ---------------------------------------------------------------------------------------------
# Dispatch


@dataclass(frozen=True)
class Wire:
    name: str
    reverse: Callable[[dict[str, Any], str, str], Target]
    normalize: Callable[[dict[str, Any]], dict[str, Any]]
    expected: Callable[[dict[str, Any]], Expected]


def _identity(body: dict[str, Any]) -> dict[str, Any]:
    return body


WIRES = {
    "openai": Wire("openai", openai_reverse, openai_normalize, openai_expected),
    "anthropic": Wire("anthropic", anthropic_reverse, _identity, anthropic_expected),
    "gemini": Wire("gemini", gemini_reverse, gemini_normalize, gemini_expected),
    "bedrock": Wire("bedrock", bedrock_reverse, bedrock_support.normalize, bedrock_expected),
    "cohere": Wire("cohere", cohere_reverse, _identity, cohere_expected),
}


def wire_of(method: str, uri: str) -> str | None:
    """Which chat API a recorded request speaks (``None``: not a chat call the gateway makes)."""
    if method != "POST":
        return None
    path = urlsplit(uri).path
    host = urlsplit(uri).hostname or ""
    if path.endswith("/chat/completions"):
        return "openai"
    if path.endswith("/v1/messages"):
        return "anthropic"
    if ":generateContent" in path or ":streamGenerateContent" in path:
        return "gemini"
    if host.startswith("bedrock-runtime.") and (path.endswith("/converse") or path.endswith("/converse-stream")):
        return "bedrock"
    if path.endswith("/v2/chat"):
        return "cohere"
    return None


def request_body(interaction: dict[str, Any]) -> Any:
    request = interaction["request"]
    if "parsed_body" in request:
        return request["parsed_body"]
    body = request.get("body")
    if isinstance(body, dict):
        body = body.get("string")
    if isinstance(body, bytes):
        body = body.decode()
    return json.loads(body) if body else None
