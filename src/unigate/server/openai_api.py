"""The OpenAI-compatible surface: /v1/chat/completions, /v1/embeddings, /v1/models."""

from __future__ import annotations

import orjson

from unigate.gateway import Principal, RequestContext
from unigate.server.app import App
from unigate.server.http import Request, Response, StreamingResponse, json_response, merge_route_headers
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


def install(app: App) -> None:
    gateway = app.gateway

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
        response, ctx = await gateway.embed(
            as_embedding_request(body), principal, request_id=request.path_params["request_id"]
        )
        return json_response(response, headers=route_headers(ctx))

    def _visible(principal: Principal, name: str) -> bool:
        return principal.allowed_models is None or name in principal.allowed_models

    async def list_models(request: Request, principal: Principal) -> Response:
        data = [m for m in gateway.list_models() if _visible(principal, m["id"])]
        return json_response({"object": "list", "data": data})

    async def get_model(request: Request, principal: Principal) -> Response:
        name = request.path_params["rest"]
        if not _visible(principal, name):
            name = "\0"  # same answer as a model that does not exist
        return json_response(gateway.describe_model(name))

    app.route("POST", "/v1/chat/completions", chat_completions)
    app.route("POST", "/chat/completions", chat_completions)
    app.route("POST", "/v1/embeddings", embeddings)
    app.route("POST", "/embeddings", embeddings)
    app.route("GET", "/v1/models", list_models)
    app.route("GET", "/models", list_models)
    app.route("GET", "/v1/models/*", get_model)
