"""The Responses API surface: ``POST /v1/responses``, ``GET`` / ``DELETE /v1/responses/{id}``
and ``GET /v1/responses/{id}/input_items``.

A request is read once into the canonical chat form (``responses.convert``) and goes through
the gateway's one pipeline (auth, access, limits and budgets, auto routing, routing with
fallbacks, cost, ledger, metrics) as chat does. It also carries the client's own body, so an
upstream with a native Responses API (a provider capability) answers it without translation;
every other upstream's answer is rendered back into Responses objects and events
(``responses.render``). Conversation state (``store``, ``previous_response_id``) is kept in the
gateway's database, owned by the key that created it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from typing import Any, cast

import orjson

from unigate.context import Principal, StreamResult
from unigate.errors import BadRequest, GatewayError, NotFound
from unigate.gateway import Gateway
from unigate.providers.registry import serves_responses
from unigate.responses import convert, render
from unigate.responses.store import ResponseStore
from unigate.server.http import Request, Response, StreamingResponse, json_response, merge_route_headers
from unigate.server.openai_api import route_headers
from unigate.server.routes import Routes
from unigate.server.services import Services
from unigate.server.sse import SSE_HEADERS
from unigate.server.validation import parse_json_object
from unigate.types import (
    RESPONSES_EVENT,
    RESPONSES_OBJECT,
    RESPONSES_REQUEST,
    Deployment,
    as_chat_request,
)

log = logging.getLogger("unigate.server")

DAY = 86400.0
_UNSUPPORTED = {
    "background": "background responses are not supported by this gateway",
    "conversation": "conversations are not supported by this gateway; use previous_response_id",
}


def _fail(message: str, param: str) -> BadRequest:
    return BadRequest(message, param=param, code="invalid_value")


def owner_of(principal: Principal) -> str:
    """Whose stored responses these are: the virtual key, else the kind of caller (master key)."""
    return principal.key_id or principal.kind


def validate(body: dict[str, Any]) -> None:
    model = body.get("model")
    if model is None:
        raise BadRequest("Missing required parameter: 'model'.", param="model", code="missing_required_parameter")
    if not isinstance(model, str) or not model:
        raise _fail("'model' must be a non-empty string.", "model")
    for name, reason in _UNSUPPORTED.items():
        if body.get(name):
            raise _fail(reason + ".", name)
    for name in ("stream", "store", "parallel_tool_calls"):
        if body.get(name) is not None and not isinstance(body[name], bool):
            raise _fail(f"'{name}' must be a boolean.", name)
    for name, high in (("temperature", 2.0), ("top_p", 1.0)):
        value = body.get(name)
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= high
        ):
            raise _fail(f"'{name}' must be a number between 0 and {high:g}.", name)
    limit = body.get("max_output_tokens")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise _fail("'max_output_tokens' must be a positive integer.", "max_output_tokens")
    for name in ("metadata", "reasoning", "text"):
        if body.get(name) is not None and not isinstance(body[name], dict):
            raise _fail(f"'{name}' must be an object.", name)
    previous = body.get("previous_response_id")
    if previous is not None and (not isinstance(previous, str) or not previous):
        raise _fail("'previous_response_id' must be a non-empty string.", "previous_response_id")
    tools = body.get("tools")
    if tools is not None and not isinstance(tools, list):
        raise _fail("'tools' must be an array.", "tools")


def _item_id(item: dict[str, Any]) -> str:
    prefix = {"function_call": "fc", "function_call_output": "fco", "reasoning": "rs"}.get(str(item.get("type")), "msg")
    return render.new_id(prefix)


def as_items(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Input items in their stored form: every item typed and with an id, string content as parts."""
    out = []
    for item in items:
        item = dict(item)
        item.setdefault("type", "message")
        if item["type"] == "message" and isinstance(item.get("content"), str):
            kind = "output_text" if item.get("role") == "assistant" else "input_text"
            item["content"] = [{"type": kind, "text": item["content"]}]
        if not item.get("id"):
            item["id"] = _item_id(item)
        out.append(item)
    return out


def history_of(stored: tuple[dict[str, Any], list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """The conversation a stored response ends: its input items, then its output items."""
    response, items = stored
    output = [dict(i) for i in response.get("output") or () if isinstance(i, dict)]
    return [*items, *output]


def sse(event: dict[str, Any]) -> bytes:
    return b"event: " + str(event.get("type")).encode() + b"\ndata: " + orjson.dumps(event) + b"\n\n"


class ResponsesSurface:
    def __init__(self, gateway: Gateway, store: ResponseStore | None) -> None:
        self.gateway = gateway
        self.store = store

    # -- POST /v1/responses -----------------------------------------------------------------

    def _reachable(self, model: str) -> list[Deployment]:
        group = self.gateway.groups.get(model)
        if group is None:
            return []
        deployments = list(group.deployments)
        for name in group.routing.fallbacks:
            fallback = self.gateway.groups.get(name)
            deployments.extend(fallback.deployments if fallback is not None else ())
        return deployments

    def _native_only(self, model: str) -> bool:
        """Every deployment the request can reach has the Responses API natively."""
        deployments = self._reachable(model)
        return bool(deployments) and all(serves_responses(d) for d in deployments)

    def _check_hosted_tools(self, body: dict[str, Any]) -> None:
        hosted = convert.hosted_tools(body)
        choice = body.get("tool_choice")
        if isinstance(choice, dict) and choice.get("type") not in (None, "function", "custom", "allowed_tools"):
            hosted.append(str(choice["type"]))
        if not hosted:
            return
        deployments = self._reachable(body["model"])
        unable = sorted({d.provider for d in deployments if not serves_responses(d)})
        if unable or not deployments:
            where = ", ".join(unable) or "an upstream without the Responses API"
            raise BadRequest(
                f"Tool type '{hosted[0]}' is a hosted tool that only an upstream with the Responses API can run; "
                f"model '{body['model']}' may be served by {where}. Use function tools, or a model served by OpenAI.",
                param="tools",
                code="unsupported_tool",
            )

    async def _history(self, body: dict[str, Any], principal: Principal) -> list[dict[str, Any]]:
        previous = body.get("previous_response_id")
        if previous is None:
            return []
        stored = await self.store.get(previous, owner_of(principal)) if self.store is not None else None
        if stored is None:
            raise NotFound(
                f"Previous response with id '{previous}' not found.",
                param="previous_response_id",
                code="previous_response_not_found",
            )
        return history_of(stored)

    async def create(self, request: Request, principal: Principal) -> Response | StreamingResponse:
        body = parse_json_object(request.body, request.header(b"content-type"))
        validate(body)
        self._check_hosted_tools(body)
        history = await self._history(body, principal)
        new_items = convert.input_items(body.get("input"))
        names: convert.ToolNames = {}
        native_only = self._native_only(body["model"])
        converted = convert.to_chat(body, history, names, lenient=native_only)
        said = bool(new_items or history) if native_only else any(m["role"] != "system" for m in converted["messages"])
        if not said:
            raise BadRequest("Missing required parameter: 'input'.", param="input", code="missing_required_parameter")
        native = {k: v for k, v in body.items() if k != "previous_response_id"}
        native["input"] = [*history, *new_items]
        converted[RESPONSES_REQUEST] = native
        merge_route_headers(request, converted)
        chat = as_chat_request(converted)
        conversation = as_items([*history, *new_items])
        response_id = render.new_id("resp")
        request_id = request.path_params["request_id"]
        if body.get("stream"):
            stream = await self.gateway.chat_stream(chat, principal, request_id=request_id, surface="responses")
            events = self._events(stream, body, response_id, conversation, principal, names)
            return StreamingResponse(events, headers=[*SSE_HEADERS, *route_headers(stream.context)])
        result = await self.gateway.chat(chat, principal, request_id=request_id, surface="responses")
        obj = self._object(body, response_id, cast(dict[str, Any], result.response), names)
        await self._save(obj, body, conversation, principal)
        return json_response(obj, headers=route_headers(result.context))

    def _object(
        self, body: dict[str, Any], response_id: str, chat: dict[str, Any], names: convert.ToolNames
    ) -> dict[str, Any]:
        native = chat.get(RESPONSES_OBJECT)
        if isinstance(native, dict):
            obj = self._own(native, body, response_id)
            if obj.get("usage") and (chat.get("usage") or {}).get("cost") is not None:
                obj["usage"]["cost"] = chat["usage"]["cost"]
            return obj
        output, finish = render.output_items(chat, names)
        status, incomplete = render.status_of(finish)
        return render.response_object(
            body,
            response_id,
            body["model"],
            int(chat.get("created") or time.time()),
            output,
            status,
            usage=render.usage(chat.get("usage")),
            incomplete=incomplete,
        )

    @staticmethod
    def _own(native: dict[str, Any], body: dict[str, Any], response_id: str) -> dict[str, Any]:
        """An upstream's response object under this gateway's id, public model name and history."""
        obj = dict(native)
        obj["id"] = response_id
        obj["model"] = body["model"]
        obj["previous_response_id"] = body.get("previous_response_id")
        obj["store"] = body.get("store", True) is not False
        return obj

    async def _save(
        self, obj: dict[str, Any], body: dict[str, Any], conversation: list[dict[str, Any]], principal: Principal
    ) -> None:
        if self.store is None or body.get("store") is False or obj.get("status") not in ("completed", "incomplete"):
            return
        await self.store.save(obj, owner_of(principal), conversation, body.get("previous_response_id"))

    async def _events(
        self,
        stream: StreamResult,
        body: dict[str, Any],
        response_id: str,
        conversation: list[dict[str, Any]],
        principal: Principal,
        names: convert.ToolNames,
    ) -> AsyncIterator[bytes]:
        renderer = render.StreamRenderer(body, response_id, body["model"], names=names)
        native: bool | None = None
        try:
            async for chunk in stream.chunks:
                event = chunk.get(RESPONSES_EVENT)
                if native is None:
                    native = isinstance(event, dict)
                    if not native:
                        for start in renderer.start():
                            yield sse(start)
                if native and isinstance(event, dict):
                    response = event.get("response")
                    if isinstance(response, dict):
                        event = {**event, "response": self._own(response, body, response_id)}
                        if event.get("type") in ("response.completed", "response.incomplete"):
                            usage = event["response"].get("usage")
                            if isinstance(usage, dict) and stream.context.cost is not None:
                                event["response"]["usage"] = {**usage, "cost": stream.context.cost}
                            await self._save(event["response"], body, conversation, principal)
                    yield sse(event)
                    continue
                for out in renderer.feed(cast(dict[str, Any], chunk)):
                    yield sse(out)
            if not native:
                if native is None:
                    for start in renderer.start():
                        yield sse(start)
                closing = renderer.finish()
                if renderer.final is not None:
                    await self._save(renderer.final, body, conversation, principal)
                for out in closing:
                    yield sse(out)
        except GatewayError as exc:
            log.warning("responses stream ended by upstream failure: %r", exc)
            for out in renderer.failed(exc.code or exc.error_type, exc.message):
                yield sse(out)
        except Exception as exc:  # never leave a client with a half-open stream and no reason
            log.exception("responses stream failed")
            for out in renderer.failed("stream_error", f"stream failed: {type(exc).__name__}"):
                yield sse(out)

    # -- stored responses -------------------------------------------------------------------

    async def _stored(self, response_id: str, principal: Principal) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        stored = await self.store.get(response_id, owner_of(principal)) if self.store is not None else None
        if stored is None:
            raise NotFound(f"Response with id '{response_id}' not found.", param="response_id", code="not_found")
        return stored

    async def get(self, request: Request, principal: Principal) -> Response:
        response_id, _, rest = request.path_params["rest"].partition("/")
        if rest == "input_items":
            return await self.input_items(request, principal, response_id)
        if rest:
            raise NotFound(f"Unknown endpoint: GET {request.path}", code="unknown_url")
        response, _ = await self._stored(response_id, principal)
        return json_response(response)

    async def input_items(self, request: Request, principal: Principal, response_id: str) -> Response:
        _, items = await self._stored(response_id, principal)
        query = request.query
        order = query.get("order", "desc")
        if order not in ("asc", "desc"):
            raise _fail("'order' must be 'asc' or 'desc'.", "order")
        try:
            limit = int(query.get("limit", "20"))
        except ValueError:
            raise _fail("'limit' must be an integer between 1 and 100.", "limit") from None
        if not 1 <= limit <= 100:
            raise _fail("'limit' must be an integer between 1 and 100.", "limit")
        ordered = items if order == "asc" else list(reversed(items))
        after = query.get("after")
        if after:
            ids = [i.get("id") for i in ordered]
            ordered = ordered[ids.index(after) + 1 :] if after in ids else []
        page = ordered[:limit]
        return json_response(
            {
                "object": "list",
                "data": page,
                "first_id": page[0].get("id") if page else None,
                "last_id": page[-1].get("id") if page else None,
                "has_more": len(ordered) > limit,
            }
        )

    async def delete(self, request: Request, principal: Principal) -> Response:
        response_id = request.path_params["rest"]
        deleted = self.store is not None and await self.store.delete(response_id, owner_of(principal))
        if not deleted:
            raise NotFound(f"Response with id '{response_id}' not found.", param="response_id", code="not_found")
        return json_response({"id": response_id, "object": "response", "deleted": True})


def register(routes: Routes, services: Services) -> None:
    config = services.config
    settings = config.responses
    store: ResponseStore | None = None
    if settings.store:
        from unigate.accounts.db import create_engine

        store = ResponseStore(create_engine(config), settings.retention_days * DAY)
        services.lifecycle.startup.append(store.migrate)
        services.lifecycle.shutdown.append(store.aclose)
    surface = ResponsesSurface(services.gateway, store)
    for prefix in ("/v1", ""):
        routes.route("POST", prefix + "/responses", surface.create)
        routes.route("GET", prefix + "/responses/*", surface.get)
        routes.route("DELETE", prefix + "/responses/*", surface.delete)
