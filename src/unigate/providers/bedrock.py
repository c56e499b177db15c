"""AWS Bedrock Converse / ConverseStream, native.

``POST {api_base or https://bedrock-runtime.{region}.amazonaws.com}/model/{modelId}/converse``
(``/converse-stream`` answers in the binary AWS event-stream format). The model id may be a
foundation model, a cross-region inference profile (``us.anthropic.claude-…``) or an ARN; it is
percent-encoded into one path segment, exactly as botocore's own client does.

Auth: a Bedrock API key (``deployment.api_key`` or ``AWS_BEARER_TOKEN_BEDROCK``) as a bearer
token, otherwise SigV4 with the standard AWS credential chain (see :mod:`._bedrock_auth`).
botocore is used for signing and event-stream decoding only; HTTP goes through the shared
aiohttp session.

Deployment options: ``region`` (else ``AWS_REGION`` / ``AWS_DEFAULT_REGION``, else ``us-east-1``),
``aws_profile``, ``aws_access_key_id`` / ``aws_secret_access_key`` / ``aws_session_token``,
``guardrail_config`` (dict, sent as ``guardrailConfig``), ``performance_latency``
(``"optimized"``), ``additional_model_request_fields`` (dict merged into the request).

Not translated: ``response_format`` ``json_schema`` (Converse has no portable JSON mode; a
clear ``BadRequest`` instead of silently unstructured output), http(s) image URLs (Converse
takes bytes or ``s3://`` locations; the gateway does not fetch URLs), ``tool_choice: "none"``
(Converse has no such mode: tools are dropped when the history has no tool blocks, otherwise
they stay and the model may still call one).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from typing import Any, cast
from urllib.parse import quote

import orjson
from botocore.eventstream import EventStreamBuffer
from yarl import URL

from unigate.errors import BadRequest, ProviderError
from unigate.providers._bedrock_auth import CredentialCache, bearer_token, sign
from unigate.providers._bedrock_parse import (
    STOP_REASONS,
    BedrockStreamState,
    error_from_exception,
    from_native,
    from_native_event,
    parse_error,
)
from unigate.providers._http import join_url, open_stream, post_json, transport_error
from unigate.providers.base import ProviderContext
from unigate.types import ChatChunk, ChatMessage, ChatRequest, ChatResponse, Deployment, new_completion_id, now

__all__ = [
    "STOP_REASONS",
    "BedrockProvider",
    "BedrockStreamState",
    "from_native",
    "from_native_event",
    "native_url",
    "parse_error",
    "region_of",
    "to_native",
]

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
    return join_url(base, f"model/{quote(deployment.model, safe='')}/{action}")


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
    response_format = request.get("response_format")
    if isinstance(response_format, dict) and response_format.get("type") == "json_schema":
        raise BadRequest("bedrock converse: response_format json_schema is not supported", param="response_format")
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


# ---------------------------------------------------------------------------------------------
# I/O


class BedrockProvider:
    """Bedrock Converse over the shared aiohttp session; SigV4 or API-key auth."""

    name = "bedrock"

    def __init__(self, context: ProviderContext) -> None:
        self.http = context.http
        self.credentials = CredentialCache()

    async def _prepare(self, request: ChatRequest, deployment: Deployment, stream: bool) -> tuple[Any, bytes, dict]:
        body = orjson.dumps(to_native(request, deployment))
        region = region_of(deployment)
        url = native_url(deployment, stream, region)
        headers = {"content-type": "application/json"}
        if stream:
            headers["accept"] = "application/vnd.amazon.eventstream"
        headers.update(deployment.headers)
        token = bearer_token(deployment)
        if token:
            headers["authorization"] = "Bearer " + token
        else:
            credentials = await self.credentials.frozen(deployment)
            headers = sign(url, body, headers, credentials, region)
        # encoded=True: send the path exactly as signed (yarl would otherwise turn %3A into ':').
        # _http's helpers are typed `str` but pass the URL straight to aiohttp, which accepts it.
        return cast(str, URL(url, encoded=True)), body, headers

    def _parse_error(self, status: int, raw: bytes, headers: Any) -> ProviderError:
        return parse_error(status, raw, headers)

    async def rerank(self, request: dict[str, Any], deployment: Deployment) -> dict[str, Any]:
        """Rerank models (Cohere Rerank, Amazon Rerank) through InvokeModel."""
        from unigate.providers.media import rerank_documents, rerank_reply

        native: dict[str, Any] = {"query": request["query"], "documents": rerank_documents(request), "api_version": 2}
        if request.get("top_n") is not None:
            native["top_n"] = request["top_n"]
        body = orjson.dumps(native)
        region = region_of(deployment)
        base = deployment.api_base or f"https://bedrock-runtime.{region}.amazonaws.com"
        url = join_url(base, f"model/{quote(deployment.model, safe='')}/invoke")
        headers = {"content-type": "application/json", "accept": "application/json", **dict(deployment.headers)}
        token = bearer_token(deployment)
        if token:
            headers["authorization"] = "Bearer " + token
        else:
            headers = sign(url, body, headers, await self.credentials.frozen(deployment), region)
        reply = await post_json(
            self.http,
            cast(str, URL(url, encoded=True)),
            body,
            headers,
            deployment.timeouts,
            self.name,
            self._parse_error,
        )
        return rerank_reply(reply.get("results") or [], request, deployment.public_name)

    async def chat(self, request: ChatRequest, deployment: Deployment) -> ChatResponse:
        url, body, headers = await self._prepare(request, deployment, stream=False)
        reply = await post_json(self.http, url, body, headers, deployment.timeouts, self.name, self._parse_error)
        return from_native(reply, deployment.public_name)

    async def chat_stream(self, request: ChatRequest, deployment: Deployment) -> AsyncIterator[ChatChunk]:
        url, body, headers = await self._prepare(request, deployment, stream=True)
        state = BedrockStreamState(response_id=new_completion_id(), model=deployment.public_name, created=now())
        async with open_stream(
            self.http, url, body, headers, deployment.timeouts, self.name, self._parse_error
        ) as resp:
            buffer = EventStreamBuffer()
            try:
                async for piece in resp.content.iter_any():
                    buffer.add_data(piece)
                    for message in buffer:
                        chunk = _decode_event(message.headers, message.payload, state)
                        if chunk is not None:
                            yield chunk
            except ProviderError:
                raise
            except Exception as exc:
                raise transport_error(self.name, exc) from exc


def _decode_event(headers: dict[str, Any], payload: bytes, state: BedrockStreamState) -> ChatChunk | None:
    """One event-stream message → a chunk; exception/error messages raise."""
    message_type = headers.get(":message-type", "event")
    if message_type == "exception":
        kind = str(headers.get(":exception-type", "exception"))
        try:
            message = str(orjson.loads(payload).get("message", ""))
        except (orjson.JSONDecodeError, AttributeError):
            message = payload[:500].decode(errors="replace")
        raise error_from_exception(kind, message or kind, None, payload[:2000])
    if message_type == "error":
        kind = str(headers.get(":error-code", "error"))
        raise error_from_exception(kind, str(headers.get(":error-message", kind)), None, payload[:2000])
    try:
        data = orjson.loads(payload) if payload else {}
    except orjson.JSONDecodeError as exc:
        raise ProviderError(
            "bedrock: malformed stream event", provider="bedrock", status=502, raw=payload[:2000]
        ) from exc
    return from_native_event(str(headers.get(":event-type", "")), data, state)
