"""The OpenAI-compatible surface: /v1/chat/completions, /v1/embeddings, /v1/models."""

from __future__ import annotations

import orjson

from unigate.context import Principal, RequestContext
from unigate.errors import model_not_found
from unigate.operations.embeddings import EMBEDDINGS
from unigate.server.http import Request, Response, StreamingResponse, json_response, merge_route_headers
from unigate.server.routes import Routes
from unigate.server.services import Services
from unigate.server.sse import SSE_HEADERS, openai_sse
from unigate.server.validation import parse_json_object, validate_chat, validate_embeddings
from unigate.types import RESPONSES_REQUEST, as_chat_request, as_embedding_request


def route_headers(ctx: RequestContext) -> list[tuple[bytes, bytes]]:
    """Which deployment answered, after how many attempts and why earlier ones were abandoned."""
    headers: list[tuple[bytes, bytes]] = []
    deployment = ctx.trace.deployment
    if deployment is not None:
        headers.append((b"x-unigate-deployment", deployment.id.encode()))
        headers.append((b"x-unigate-provider", deployment.provider.encode()))
        headers.append((b"x-unigate-upstream-model", deployment.model.encode()))
    headers.append((b"x-unigate-model", ctx.model.encode()))
    headers.append((b"x-unigate-attempts", ctx.trace.header().encode()))
    headers.extend(ctx.trace.extra_headers())
    if ctx.cost is not None:
        headers.append((b"x-unigate-cost", f"{ctx.cost:.10f}".rstrip("0").rstrip(".").encode() or b"0"))
    extra = ctx.extras.get("response_headers")
    if extra:
        headers.extend((k.encode(), v.encode()) for k, v in extra.items())
    return headers


def register(routes: Routes, services: Services) -> None:
    gateway = services.gateway

    async def chat_completions(request: Request, principal: Principal) -> Response | StreamingResponse:
        body = parse_json_object(request.body, request.header(b"content-type"))
        validate_chat(body)
        body.pop(RESPONSES_REQUEST, None)  # only the /v1/responses surface may ask for the native call
        merge_route_headers(request, body)
        chat = as_chat_request(body)
        request_id = request.path_params["request_id"]
        if chat.get("stream"):
            stream = await gateway.chat_stream(chat, principal, request_id=request_id)
            return StreamingResponse(openai_sse(stream.chunks), headers=[*SSE_HEADERS, *route_headers(stream.context)])
        result = await gateway.chat(chat, principal, request_id=request_id)
        return Response(
            orjson.dumps(result.response),
            200,
            [(b"content-type", b"application/json"), *route_headers(result.context)],
        )

    async def embeddings(request: Request, principal: Principal) -> Response:
        body = parse_json_object(request.body, request.header(b"content-type"))
        validate_embeddings(body)
        response, ctx = await gateway.run(
            EMBEDDINGS, as_embedding_request(body), principal, request_id=request.path_params["request_id"]
        )
        return json_response(response, headers=route_headers(ctx))

    groups = gateway.groups

    async def list_models(request: Request, principal: Principal) -> Response:
        data = [groups.describe(name) for name in groups.listed() if principal.may_use(name)]
        return json_response({"object": "list", "data": data})

    async def get_model(request: Request, principal: Principal) -> Response:
        name = request.path_params["rest"]
        if not principal.may_use(name):
            raise model_not_found(name, reason="hidden")  # one answer for every name outside the key's list
        return json_response(groups.describe(name))

    routes.route("POST", "/v1/chat/completions", chat_completions)
    routes.route("POST", "/chat/completions", chat_completions)
    routes.route("POST", "/v1/embeddings", embeddings)
    routes.route("POST", "/embeddings", embeddings)
    routes.route("GET", "/v1/models", list_models)
    routes.route("GET", "/models", list_models)
    routes.route("GET", "/v1/models/*", get_model)
