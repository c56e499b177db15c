"""Moderation: ``POST /v1/moderations`` to OpenAI-family upstreams, and the optional guardrail
that moderates chat input before it is routed.

The guardrail's action per key comes from the key's tags (``moderation:block`` or
``moderation:flag``), else ``media.moderation.action``. ``block`` refuses flagged input with a
400 naming the categories; ``flag`` lets it through with an ``x-unigate-moderation`` header.
Either way the verdict is in the request log line (``moderation``).
"""

from __future__ import annotations

from typing import Any

from unigate.config import ModerationGuardConfig
from unigate.context import Principal, RequestContext
from unigate.errors import BadRequest, GatewayError
from unigate.gateway import Gateway
from unigate.operations import Operation
from unigate.server.http import Request, Response, json_response
from unigate.server.openai_api import route_headers
from unigate.server.routes import Routes
from unigate.server.services import Services
from unigate.server.validation import parse_json_object

MODERATE: Operation[dict[str, Any], Any] = Operation(
    "moderation", lambda p, r, d: p.moderate(r, d), lambda reply: None, method="moderate", pricing="media"
)
GUARDED_ENDPOINTS = frozenset({"chat", "responses", "messages"})


def validate_moderation(body: dict[str, Any], default_model: str) -> None:
    value = body.get("input")
    if value is None:
        raise BadRequest("Missing required parameter: 'input'.", param="input", code="missing_required_parameter")
    if not (isinstance(value, str) or (isinstance(value, list) and value)):
        raise BadRequest("'input' must be a string or a non-empty array.", param="input", code="invalid_value")
    body.setdefault("model", default_model)
    if not isinstance(body["model"], str) or not body["model"]:
        raise BadRequest("'model' must be a non-empty string.", param="model", code="invalid_value")


class ModerationBlocked(BadRequest):
    default_code = "content_flagged"


def chat_text(request: dict[str, Any]) -> str:
    """The text a chat request sends (user, system and developer turns)."""
    pieces: list[str] = []
    for message in request.get("messages") or ():
        if not isinstance(message, dict) or message.get("role") not in ("user", "system", "developer"):
            continue
        content = message.get("content")
        if isinstance(content, str):
            pieces.append(content)
        elif isinstance(content, list):
            pieces.extend(str(p.get("text")) for p in content if isinstance(p, dict) and p.get("type") == "text")
    return "\n".join(p for p in pieces if p)


def flagged_categories(reply: dict[str, Any]) -> list[str]:
    """The categories of flagged results (``["flagged"]`` when a flagged result names none)."""
    categories: set[str] = set()
    for result in reply.get("results") or ():
        if isinstance(result, dict) and result.get("flagged"):
            named = {name for name, hit in (result.get("categories") or {}).items() if hit}
            categories.update(named or {"flagged"})
    return sorted(categories)


class ModerationGuard:
    """A RequestHook: moderates chat input (one moderation request, ledgered to the same key)."""

    def __init__(self, gateway: Gateway, config: ModerationGuardConfig) -> None:
        self.gateway = gateway
        self.config = config

    def action(self, principal: Principal) -> str:
        for tag in principal.metadata.get("tags") or ():
            if isinstance(tag, str) and tag.startswith("moderation:"):
                return tag.split(":", 1)[1]
        return self.config.action

    async def before(self, ctx: RequestContext, request: dict[str, Any]) -> None:
        if ctx.endpoint not in GUARDED_ENDPOINTS or ctx.extras.get("moderation_done"):
            return
        action = self.action(ctx.principal)
        if action not in ("block", "flag"):
            return
        text = chat_text(request)
        if not text:
            return
        ctx.extras["moderation_done"] = True
        # the check itself is a request of the same key (ledgered), without the key's model list
        checker = Principal(
            ctx.principal.kind,
            key_id=ctx.principal.key_id,
            key_name=ctx.principal.key_name,
            team_id=ctx.principal.team_id,
        )
        try:
            reply, _ = await self.gateway.run(MODERATE, {"model": self.config.model, "input": text}, checker)
        except GatewayError as exc:
            ctx.extras["moderation"] = {"error": type(exc).__name__}
            if action == "block":
                raise BadRequest(
                    f"Input could not be moderated ({exc.message}); it was not sent.", code="moderation_unavailable"
                ) from exc
            return
        categories = flagged_categories(reply)
        verdict = {"action": action, "flagged": bool(categories), "categories": categories}
        ctx.extras["moderation"] = verdict
        if not categories:
            return
        if action == "block":
            error = ModerationBlocked(
                f"The input was flagged by moderation ({', '.join(categories)}) and was not sent.", param="messages"
            )
            ctx.error = error
            raise error
        headers = ctx.extras.setdefault("response_headers", {})
        headers["x-unigate-moderation"] = "flagged; categories=" + ",".join(categories)

    async def after(self, ctx: RequestContext) -> None:
        return None


def register(routes: Routes, services: Services) -> None:
    gateway = services.gateway
    config = services.config.media.moderation

    async def moderations(request: Request, principal: Principal) -> Response:
        body = parse_json_object(request.body, request.header(b"content-type"))
        validate_moderation(body, config.model)
        reply, ctx = await gateway.run(MODERATE, body, principal, request_id=request.path_params["request_id"])
        return json_response(reply, headers=route_headers(ctx))

    routes.route("POST", "/v1/moderations", moderations)
    routes.route("POST", "/moderations", moderations)
    # after the accounts and observability hooks: a refusal then reaches their ``after`` (the
    # reservation is released, the log line has the reason)
    services.hooks.add(ModerationGuard(gateway, config))
