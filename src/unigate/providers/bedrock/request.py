"""AWS Bedrock Converse / ConverseStream, native.

``POST {api_base or https://bedrock-runtime.{region}.amazonaws.com}/model/{modelId}/converse``
(``/converse-stream`` answers in the binary AWS event-stream format). The model id may be a
foundation model, a cross-region inference profile (``us.anthropic.claude-…``) or an ARN; it is
percent-encoded into one path segment, exactly as botocore's own client does.

Auth: a Bedrock API key (``deployment.api_key`` or ``AWS_BEARER_TOKEN_BEDROCK``) as a bearer
token, otherwise SigV4 with the standard AWS credential chain (see :mod:`.auth`).
botocore is used for signing and event-stream decoding only; HTTP goes through the shared
aiohttp session.

Deployment options: ``region`` (else ``AWS_REGION`` / ``AWS_DEFAULT_REGION``, else ``us-east-1``),
``aws_profile``, ``aws_access_key_id`` / ``aws_secret_access_key`` / ``aws_session_token``,
``guardrail_config`` (dict, sent as ``guardrailConfig``), ``performance_latency``
(``"optimized"``), ``additional_model_request_fields`` (dict merged into the request).

``response_format: json_schema`` → ``outputConfig.textFormat`` (Converse structured output).

Not translated: ``response_format: json_object`` (no Converse equivalent), http(s) image URLs (Converse
takes bytes or ``s3://`` locations; the gateway does not fetch URLs), ``tool_choice: "none"``
(Converse has no such mode: tools are dropped when the history has no tool blocks, otherwise
they stay and the model may still call one).
"""

from __future__ import annotations

import os
from typing import Any

import orjson

from unigate.errors import BadRequest
from unigate.providers.bedrock.auth import CredentialCache, bearer_token, sign
from unigate.providers.shell import Call, encoded_url, join_url, segment
from unigate.types import ChatMessage, ChatRequest, Deployment

_IMAGE_FORMATS = {
    "image/jpeg": "jpeg",
    "image/jpg": "jpeg",
    "image/png": "png",
    "image/gif": "gif",
    "image/webp": "webp",
}
_DOCUMENT_FORMATS = {
    "application/pdf": "pdf",
    "text/csv": "csv",
    "application/msword": "doc",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
    "application/vnd.ms-excel": "xls",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
    "text/html": "html",
    "text/plain": "txt",
    "text/markdown": "md",
}
# reasoning_effort → Anthropic extended-thinking budget (Converse passes it through to Claude).
_THINKING_BUDGETS = {"minimal": 1024, "low": 1024, "medium": 4096, "high": 16384}


# ---------------------------------------------------------------------------------------------
# Pure translation: request


def region_of(deployment: Deployment) -> str:
    return str(
        deployment.option("region")
        or deployment.option("aws_region")
        or os.environ.get("AWS_REGION")
        or os.environ.get("AWS_DEFAULT_REGION")
        or "us-east-1"
    )


def native_url(deployment: Deployment, stream: bool, region: str) -> str:
    base = deployment.api_base or f"https://bedrock-runtime.{region}.amazonaws.com"
    action = "converse-stream" if stream else "converse"
    return join_url(base, f"model/{segment(deployment.model)}/{action}")


def _split_data_url(url: str) -> tuple[str, str]:
    header, sep, data = url[5:].partition(",")
    if not sep or ";base64" not in header:
        raise BadRequest("bedrock: only base64 data: URLs are supported", param="messages")
    return header.split(";", 1)[0].lower(), data


def _image_block(url: str) -> dict[str, Any]:
    if url.startswith("s3://"):
        ext = url.rsplit(".", 1)[-1].lower()
        fmt = "jpeg" if ext == "jpg" else ext
        return {"image": {"format": fmt, "source": {"s3Location": {"uri": url}}}}
    if not url.startswith("data:"):
        raise BadRequest(
            "bedrock: image URLs are not supported (Converse needs the bytes): send a base64 data: URL",
            param="messages",
        )
    mime, data = _split_data_url(url)
    image_format = _IMAGE_FORMATS.get(mime)
    if image_format is None:
        raise BadRequest(f"bedrock: unsupported image type {mime!r}", param="messages")
    return {"image": {"format": image_format, "source": {"bytes": data}}}


def _document_block(file: dict[str, Any], position: int) -> dict[str, Any]:
    data_url = file.get("file_data")
    if not isinstance(data_url, str) or not data_url.startswith("data:"):
        raise BadRequest("bedrock: file parts need base64 file_data", param="messages")
    mime, data = _split_data_url(data_url)
    fmt = _DOCUMENT_FORMATS.get(mime)
    if fmt is None:
        raise BadRequest(f"bedrock: unsupported document type {mime!r}", param="messages")
    # Converse allows only alphanumerics, spaces, hyphens, parentheses and brackets in names.
    raw_name = str(file.get("filename") or f"Document {position}").rsplit(".", 1)[0]
    name = "".join(c if c.isalnum() or c in " -()[]" else " " for c in raw_name).strip() or f"Document {position}"
    return {"document": {"name": name, "format": fmt, "source": {"bytes": data}}}


def _content_blocks(content: Any) -> list[dict[str, Any]]:
    if content is None:
        return []
    if isinstance(content, str):
        return [{"text": content}] if content else []
    blocks: list[dict[str, Any]] = []
    documents = 0
    for part in content:
        kind = part.get("type")
        if kind == "text":
            if part.get("text"):
                blocks.append({"text": part["text"]})
        elif kind == "image_url":
            image = part.get("image_url")
            blocks.append(_image_block(str(image.get("url") if isinstance(image, dict) else image)))
        elif kind == "file":
            documents += 1
            blocks.append(_document_block(part.get("file") or {}, documents))
        else:
            raise BadRequest(f"bedrock: unsupported content part type {kind!r}", param="messages")
        if part.get("cache_control"):
            # Anthropic-style prompt-cache marker → a Converse cache checkpoint after this block.
            blocks.append({"cachePoint": {"type": "default"}})
    return blocks


def _assistant_blocks(message: ChatMessage) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    # Only signed (or redacted) thinking goes back: Claude verifies it, and unsigned reasoning
    # text from another model would be rejected. Plain reasoning_content is dropped.
    for thinking in message.get("thinking_blocks") or ():
        if thinking.get("type") == "thinking" and thinking.get("signature"):
            text = {"text": thinking.get("thinking", ""), "signature": thinking["signature"]}
            blocks.append({"reasoningContent": {"reasoningText": text}})
        elif thinking.get("type") == "redacted_thinking" and thinking.get("data"):
            blocks.append({"reasoningContent": {"redactedContent": thinking["data"]}})
    blocks.extend(_content_blocks(message.get("content")))
    for call in message.get("tool_calls") or ():
        function = call.get("function") or {}
        raw_args = function.get("arguments") or "{}"
        try:
            args = orjson.loads(raw_args) if isinstance(raw_args, str) else raw_args
        except orjson.JSONDecodeError as exc:
            raise BadRequest(f"tool call arguments are not valid JSON: {raw_args[:200]!r}") from exc
        use = {"toolUseId": call.get("id"), "name": function.get("name", ""), "input": args}
        blocks.append({"toolUse": use})
    return blocks


def _tool_result(message: ChatMessage) -> dict[str, Any]:
    content = message.get("content")
    blocks = _content_blocks(content) if isinstance(content, list) else [{"text": content or ""}]
    return {"toolResult": {"toolUseId": message.get("tool_call_id"), "content": blocks or [{"text": ""}]}}


def _messages(messages: list[ChatMessage]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """OpenAI messages → (system blocks, Converse messages with same-role turns merged)."""
    system: list[dict[str, Any]] = []
    out: list[dict[str, Any]] = []

    def add(role: str, blocks: list[dict[str, Any]]) -> None:
        if not blocks:
            return  # Converse rejects empty content lists
        if out and out[-1]["role"] == role:
            out[-1]["content"].extend(blocks)  # Converse requires alternating roles
        else:
            out.append({"role": role, "content": list(blocks)})

    for message in messages:
        role = message.get("role")
        if role in ("system", "developer"):
            system.extend(_content_blocks(message.get("content")))
        elif role == "user":
            add("user", _content_blocks(message.get("content")))
        elif role == "assistant":
            add("assistant", _assistant_blocks(message))
        elif role == "tool":
            add("user", [_tool_result(message)])
        else:
            raise BadRequest(f"unsupported message role {role!r}", param="messages")
    return system, out


def _tool_config(request: ChatRequest, messages: list[dict[str, Any]]) -> dict[str, Any] | None:
    tools = []
    for tool in request.get("tools") or ():
        if tool.get("type", "function") != "function":
            raise BadRequest(f"bedrock: unsupported tool type {tool.get('type')!r}", param="tools")
        function = tool.get("function") or {}
        spec: dict[str, Any] = {
            "name": function.get("name", ""),
            "inputSchema": {"json": function.get("parameters") or {"type": "object", "properties": {}}},
        }
        if function.get("description"):
            spec["description"] = function["description"]
        tools.append({"toolSpec": spec})
        if tool.get("cache_control"):  # a prompt-cache mark → a cache checkpoint after this tool
            tools.append({"cachePoint": {"type": "default"}})
    if not tools:
        return None
    choice = request.get("tool_choice")
    if choice == "none":
        used = any("toolUse" in b or "toolResult" in b for m in messages for b in m["content"])
        return {"tools": tools} if used else None
    config: dict[str, Any] = {"tools": tools}
    if choice == "auto":
        config["toolChoice"] = {"auto": {}}
    elif choice == "required":
        config["toolChoice"] = {"any": {}}
    elif isinstance(choice, dict):
        name = (choice.get("function") or {}).get("name")
        if not name:
            raise BadRequest("tool_choice object needs function.name", param="tool_choice")
        config["toolChoice"] = {"tool": {"name": name}}
    elif choice is not None:
        raise BadRequest(f"unsupported tool_choice {choice!r}", param="tool_choice")
    return config


def _additional_fields(request: ChatRequest, deployment: Deployment) -> dict[str, Any]:
    model = deployment.model.lower()
    fields: dict[str, Any] = {}
    top_k = request.get("top_k")
    if top_k is not None:
        # Nova nests sampling knobs under inferenceConfig; Claude, Llama, Mistral take top_k.
        fields.update({"inferenceConfig": {"topK": top_k}} if "amazon.nova" in model else {"top_k": top_k})
    if isinstance(request.get("thinking"), dict):
        fields["thinking"] = request["thinking"]  # Anthropic-style passthrough
    else:
        effort = request.get("reasoning_effort")
        if isinstance(effort, str) and effort != "none":
            if "anthropic." in model:
                budget = _THINKING_BUDGETS.get(effort, 4096)
                fields["thinking"] = {"type": "enabled", "budget_tokens": budget}
            elif "qwen." in model:
                fields["reasoning_config"] = effort
            elif "openai." in model:
                fields["reasoning_effort"] = effort
    extra = deployment.option("additional_model_request_fields")
    if isinstance(extra, dict):
        fields.update(extra)
    return fields


def _output_config(response_format: Any) -> dict[str, Any] | None:
    """``response_format: json_schema`` → Converse structured output (``outputConfig.textFormat``,
    the schema as JSON text, as the API wants it). ``json_object`` has no Converse equivalent
    and is not sent."""
    if not isinstance(response_format, dict) or response_format.get("type") != "json_schema":
        return None
    spec = response_format.get("json_schema") or {}
    definition: dict[str, Any] = {"schema": orjson.dumps(spec.get("schema") or {"type": "object"}).decode()}
    for name in ("name", "description"):
        if isinstance(spec.get(name), str) and spec[name]:
            definition[name] = spec[name]
    return {"textFormat": {"type": "json_schema", "structure": {"jsonSchema": definition}}}


def to_native(request: ChatRequest, deployment: Deployment) -> dict[str, Any]:
    """An OpenAI chat request → a Converse / ConverseStream body (the same for both)."""
    system, messages = _messages(request.get("messages") or [])
    if not messages:
        raise BadRequest("bedrock needs at least one user message", param="messages")
    body: dict[str, Any] = {"messages": messages}
    if system:
        body["system"] = system
    inference: dict[str, Any] = {}
    max_tokens = request.get("max_completion_tokens") or request.get("max_tokens")
    if max_tokens is not None:
        inference["maxTokens"] = max_tokens
    if request.get("temperature") is not None:
        inference["temperature"] = request["temperature"]
    if request.get("top_p") is not None:
        inference["topP"] = request["top_p"]
    stop = request.get("stop")
    if stop:
        inference["stopSequences"] = [stop] if isinstance(stop, str) else list(stop)
    if inference:
        body["inferenceConfig"] = inference
    tool_config = _tool_config(request, messages)
    if tool_config is not None:
        body["toolConfig"] = tool_config
    output_config = _output_config(request.get("response_format"))
    if output_config is not None:
        body["outputConfig"] = output_config
    fields = _additional_fields(request, deployment)
    if fields:
        body["additionalModelRequestFields"] = fields
    guardrail = deployment.option("guardrail_config")
    if isinstance(guardrail, dict):
        body["guardrailConfig"] = guardrail
    latency = deployment.option("performance_latency")
    if latency:
        body["performanceConfig"] = {"latency": latency}
    tier = request.get("service_tier")
    if tier in ("default", "flex", "priority"):
        body["serviceTier"] = {"type": tier}
    return body


async def build_call(request: ChatRequest, deployment: Deployment, stream: bool, credentials: CredentialCache) -> Call:
    """The Converse call, authorized."""
    region = region_of(deployment)
    headers = {"content-type": "application/json"}
    if stream:
        headers["accept"] = "application/vnd.amazon.eventstream"
    body = orjson.dumps(to_native(request, deployment))
    return await authorized(native_url(deployment, stream, region), body, headers, deployment, region, credentials)


def rerank_body(request: dict[str, Any]) -> bytes:
    """InvokeModel body of a rerank model (Cohere Rerank, Amazon Rerank)."""
    from unigate.providers.media import rerank_documents

    native: dict[str, Any] = {"query": request["query"], "documents": rerank_documents(request), "api_version": 2}
    if request.get("top_n") is not None:
        native["top_n"] = request["top_n"]
    return orjson.dumps(native)


async def rerank_call(request: dict[str, Any], deployment: Deployment, credentials: CredentialCache) -> Call:
    region = region_of(deployment)
    base = deployment.api_base or f"https://bedrock-runtime.{region}.amazonaws.com"
    url = join_url(base, f"model/{segment(deployment.model)}/invoke")
    headers = {"content-type": "application/json", "accept": "application/json"}
    return await authorized(url, rerank_body(request), headers, deployment, region, credentials)


async def authorized(
    url: str,
    body: bytes,
    headers: dict[str, str],
    deployment: Deployment,
    region: str,
    credentials: CredentialCache,
    method: str = "POST",
) -> Call:
    """A Bedrock API key as a bearer token, else SigV4 with the credential chain."""
    headers = {**headers, **dict(deployment.headers)}
    token = bearer_token(deployment)
    if token:
        headers["authorization"] = "Bearer " + token
        return Call(encoded_url(url), body, headers)
    frozen = await credentials.frozen(deployment)
    signed = sign(url, body, headers, frozen, region, method)
    secrets = tuple(s for s in (frozen.secret_key, frozen.token, frozen.access_key) if s)
    # sent exactly as signed (aiohttp would otherwise turn the model id's %3A back into ':')
    return Call(encoded_url(url), body, signed, secrets)
