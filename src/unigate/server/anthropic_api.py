"""The Anthropic-compatible surface: ``POST /v1/messages`` and ``POST /v1/messages/count_tokens``.

Anthropic clients (the ``anthropic`` SDK, coding agents speaking the Messages API) reach every
model the gateway serves: the request is translated to the canonical OpenAI form
(``providers/anthropic/inbound.py``), routed by ``Gateway.chat`` / ``chat_stream`` like any other, and the
answer translated back. Every error — auth, validation, routing, upstream — is answered in
Anthropic's shape (``{"type": "error", "error": {"type", "message"}}``): the routes register
:func:`error_response` as their error renderer, so the app renders body-limit, auth and
unexpected errors in that shape too. Bodies are checked against the Anthropic schema
(``anthropic_validation``) before translation.
"""

from __future__ import annotations

import logging
import math
from collections.abc import AsyncIterator
from typing import Any

import orjson

from unigate.errors import GatewayError, NotFound
from unigate.gateway import Gateway, Principal
from unigate.providers.anthropic.inbound import (
    StreamTranslator,
    count_tokens_reply,
    error_payload,
    to_anthropic,
    to_openai,
)
from unigate.providers.base import TokenCountingProvider
from unigate.providers.registry import capabilities
from unigate.server.anthropic_validation import validate_messages_body
from unigate.server.app import App
from unigate.server.http import Request, Response, StreamingResponse, merge_route_headers
from unigate.server.openai_api import route_headers
from unigate.server.sse import SSE_HEADERS
from unigate.server.unmetered import admit_unmetered
from unigate.server.validation import parse_json_object, validate_chat
from unigate.types import ChatChunk, ChatRequest, as_json

log = logging.getLogger("unigate.server")

JSON = b"application/json"
IMAGE_TOKENS = 1600  # Anthropic's documented cost of a ~1.15 megapixel image


def event(name: str, data: dict[str, Any]) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


def error_response(error: GatewayError, request_id: str) -> Response:
    status, payload = error_payload(error)
    headers = [(b"content-type", JSON), (b"request-id", request_id.encode())]
    headers += [(k.encode(), v.encode()) for k, v in error.response_headers().items()]
    return Response(orjson.dumps({**payload, "request_id": request_id}), status, headers)


async def anthropic_sse(chunks: AsyncIterator[ChatChunk], model: str) -> AsyncIterator[bytes]:
    """Canonical chunks → Anthropic SSE events. A failure after the response has started ends
    the stream with an ``error`` event (the SDK raises it), as Anthropic itself does."""
    translator = StreamTranslator(model)
    try:
        async for chunk in chunks:
            for name, data in translator.feed(chunk):
                yield event(name, data)
        for name, data in translator.finish():
            yield event(name, data)
    except GatewayError as exc:
        log.warning("stream ended by upstream failure: %r", exc)
        yield event("error", error_payload(exc)[1])
    except Exception as exc:  # never leave a client with a half-open stream and no reason
        log.exception("stream failed")
        yield event(
            "error",
            {"type": "error", "error": {"type": "api_error", "message": f"stream failed: {type(exc).__name__}"}},
        )


def serving_providers(gateway: Gateway, model: str) -> frozenset[str]:
    """Which providers may serve ``model`` (empty when only routing will tell, e.g. auto)."""
    group = gateway.groups.get(model)
    if group is None and gateway.router is not None:
        group = gateway.router.groups.get(model)
    if group is not None:
        return frozenset(d.provider for d in group.deployments)
    provider, sep, rest = model.partition("/")
    return frozenset({provider}) if sep and rest else frozenset()


def estimate_tokens(request: ChatRequest) -> int:
    """A rough count (≈4 characters a token, images at Anthropic's documented size) for upstreams
    that have no token-counting endpoint."""
    chars = 0
    images = 0
    for message in request["messages"]:
        chars += 16  # role and turn framing
        content = message.get("content")
        parts = [{"type": "text", "text": content}] if isinstance(content, str) else content or []
        for part in parts:
            if part.get("type") == "text":
                chars += len(part.get("text") or "")
            elif part.get("type") in ("image_url", "file"):
                images += 1
        for call in message.get("tool_calls") or ():
            chars += len(orjson.dumps(call.get("function") or {}))
        for block in message.get("thinking_blocks") or ():
            chars += len(block.get("thinking") or "")
    for tool in request.get("tools") or ():
        chars += len(orjson.dumps(tool))
    return max(1, math.ceil(chars / 4) + images * IMAGE_TOKENS)


def install(app: App) -> None:
    gateway = app.gateway

    async def messages(request: Request, principal: Principal) -> Response | StreamingResponse:
        request_id = request.path_params["request_id"]
        chat, model = _chat_request(gateway, request)
        validate_chat(as_json(chat))
        merge_route_headers(request, as_json(chat))
        id_header = (b"request-id", request_id.encode())
        if chat.get("stream"):
            stream = await gateway.chat_stream(chat, principal, request_id=request_id)
            headers = [*SSE_HEADERS, id_header, *route_headers(stream.context)]
            return StreamingResponse(anthropic_sse(stream.chunks, model), headers=headers)
        result = await gateway.chat(chat, principal, request_id=request_id)
        message = to_anthropic(result.response, model)
        return Response(
            orjson.dumps(message), 200, [(b"content-type", JSON), id_header, *route_headers(result.context)]
        )

    async def count_tokens(request: Request, principal: Principal) -> Response:
        await admit_unmetered(app, request, principal)
        chat, _ = _chat_request(gateway, request, count_only=True)
        validate_chat(as_json(chat))
        allowed = principal.allowed_models
        if allowed is not None and chat["model"] not in allowed:
            raise NotFound(f"The model '{chat['model']}' does not exist or is not available to this key.")
        providers = serving_providers(gateway, chat["model"])
        counts_natively = bool(providers) and all(capabilities(p).count_tokens for p in providers)
        counted = await _upstream_count(gateway, chat) if counts_natively else None
        tokens = counted if counted is not None else estimate_tokens(chat)
        return Response(orjson.dumps(count_tokens_reply(tokens)), 200, [(b"content-type", JSON)])

    # every error of these routes, from the body limit to an unexpected failure, is Anthropic-shaped
    app.route("POST", "/v1/messages", messages, errors=error_response)
    app.route("POST", "/v1/messages/count_tokens", count_tokens, errors=error_response)


def _chat_request(gateway: Gateway, request: Request, *, count_only: bool = False) -> tuple[ChatRequest, str]:
    """The body, checked against the Anthropic schema and translated to the canonical chat form."""
    body = parse_json_object(request.body, request.header(b"content-type"))
    validate_messages_body(body)
    betas = request.header(b"anthropic-beta")
    if betas and "anthropic_beta" not in body:
        # the client's beta features (Claude Code sends several) go with its request to an
        # Anthropic upstream; to_openai keeps them only when the model is served by Anthropic alone
        body["anthropic_beta"] = betas.decode("latin-1")
    model = body["model"]
    return to_openai(body, serving_providers(gateway, model), count_only=count_only), model


async def _upstream_count(gateway: Gateway, chat: ChatRequest) -> int | None:
    """The provider's own count (the first deployment of the model); ``None`` if that is not
    possible, so the caller falls back to an estimate."""
    group = gateway.groups.get(chat["model"])
    if group is None or gateway.providers is None:
        return None
    deployment = group.deployments[0]
    provider = gateway.providers.get(deployment.provider)
    if not isinstance(provider, TokenCountingProvider):
        return None
    try:
        return await provider.count_tokens(chat, deployment)
    except GatewayError as exc:
        log.info("count_tokens upstream failed, estimating instead: %r", exc)
        return None
