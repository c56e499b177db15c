"""The Anthropic-compatible surface: ``POST /v1/messages`` and ``POST /v1/messages/count_tokens``.

Anthropic clients (the ``anthropic`` SDK, coding agents speaking the Messages API) reach every
model the gateway serves: the request is translated to the canonical OpenAI form
(``providers/anthropic/inbound.py``), routed by ``Gateway.chat`` / ``chat_stream`` like any other, and the
answer translated back. Every error — auth, validation, routing, upstream — is answered in
Anthropic's shape (``{"type": "error", "error": {"type", "message"}}``): the routes register
:func:`error_response` as their error renderer, so the app renders body-limit, auth and
unexpected errors in that shape too. Bodies are checked against the Anthropic schema
(``anthropic_validation``) before translation. ``count_tokens`` is the pipeline's
``COUNT_TOKENS`` operation (access check, hooks and limits, routing and fallbacks).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import orjson

from unigate.context import Principal
from unigate.errors import GatewayError
from unigate.operations.count_tokens import COUNT_TOKENS
from unigate.providers.anthropic.inbound import (
    StreamTranslator,
    count_tokens_reply,
    error_payload,
    to_anthropic,
    to_openai,
)
from unigate.routing.groups import ModelGroups
from unigate.server.anthropic_validation import validate_messages_body
from unigate.server.http import Request, Response, StreamingResponse, merge_route_headers
from unigate.server.openai_api import route_headers
from unigate.server.routes import Routes
from unigate.server.services import Services
from unigate.server.sse import SSE_HEADERS
from unigate.server.validation import parse_json_object, validate_chat
from unigate.types import ChatChunk, ChatRequest, as_json

log = logging.getLogger("unigate.server")

JSON = b"application/json"


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


def register(routes: Routes, services: Services) -> None:
    gateway = services.gateway
    groups = gateway.groups

    async def messages(request: Request, principal: Principal) -> Response | StreamingResponse:
        request_id = request.path_params["request_id"]
        chat, model = _chat_request(groups, request)
        validate_chat(as_json(chat))
        merge_route_headers(request, as_json(chat))
        id_header = (b"request-id", request_id.encode())
        if chat.get("stream"):
            stream = await gateway.chat_stream(chat, principal, request_id=request_id, surface="messages")
            headers = [*SSE_HEADERS, id_header, *route_headers(stream.context)]
            return StreamingResponse(anthropic_sse(stream.chunks, model), headers=headers)
        result = await gateway.chat(chat, principal, request_id=request_id, surface="messages")
        message = to_anthropic(result.response, model)
        return Response(
            orjson.dumps(message), 200, [(b"content-type", JSON), id_header, *route_headers(result.context)]
        )

    async def count_tokens(request: Request, principal: Principal) -> Response:
        # the pipeline's COUNT_TOKENS operation: access check, hooks (rate limits), routing
        chat, _ = _chat_request(groups, request, count_only=True)
        validate_chat(as_json(chat))
        request_id = request.path_params["request_id"]
        counted, _ = await gateway.run(COUNT_TOKENS, chat, principal, request_id=request_id)
        return Response(orjson.dumps(count_tokens_reply(counted)), 200, [(b"content-type", JSON)])

    # every error of these routes, from the body limit to an unexpected failure, is Anthropic-shaped
    routes.route("POST", "/v1/messages", messages, errors=error_response)
    routes.route("POST", "/v1/messages/count_tokens", count_tokens, errors=error_response)


def _chat_request(groups: ModelGroups, request: Request, *, count_only: bool = False) -> tuple[ChatRequest, str]:
    """The body, checked against the Anthropic schema and translated to the canonical chat form."""
    body = parse_json_object(request.body, request.header(b"content-type"))
    validate_messages_body(body)
    betas = request.header(b"anthropic-beta")
    if betas and "anthropic_beta" not in body:
        # the client's beta features (Claude Code sends several) go with its request to an
        # Anthropic upstream; to_openai keeps them only when the model is served by Anthropic alone
        body["anthropic_beta"] = betas.decode("latin-1")
    model = body["model"]
    return to_openai(body, groups.providers_of(model), count_only=count_only), model
