"""Native pass-through: ``/openai/*``, ``/anthropic/*``, ``/gemini/*``, ``/cohere/*`` and every
OpenAI-compatible provider's ``/<provider>/*`` forward the provider's own API unchanged, with the
provider's key in place of the client's virtual key — so SDK features unigate does not model
still work. ``/bedrock/*`` is Bedrock's runtime API, each request signed by the gateway (SigV4,
or a Bedrock API key as a bearer token) instead of carrying a key.

The route still obeys the gateway: the key must be allowed the model it names (a key with a
model list must name one), the hooks run (rate limits, budget, ledger, metrics, log), usage is
read from the answer (JSON or server-sent events, in the provider's own shape) and charged. The
client's key never goes upstream; path segments are re-quoted and ``.``/``..`` refused.
``/openai/v1/...`` is an alias of the gateway's own ``/v1/...`` (routed like any request).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

import aiohttp
import orjson
from yarl import URL

from unigate.config import GatewayConfig
from unigate.context import Principal, RequestContext
from unigate.errors import BadRequest, GatewayError, NotFound, PermissionDenied
from unigate.gateway import Gateway
from unigate.providers.passthrough import (
    AwsEventReader,
    Redactor,
    Signer,
    SseReader,
    default_base,
    forwarded_headers,
    merge_usage,
    model_of,
    providers,
    signs_requests,
    upstream_auth,
    usage_of,
)
from unigate.providers.registry import key_env
from unigate.providers.shell import client_timeout, transport_error
from unigate.server.http import Request, Response, StreamingResponse
from unigate.server.routes import Routes
from unigate.server.services import Services
from unigate.types import Deployment, Timeouts, new_request_id

_RESPONSE_KEEP = ("content-type", "retry-after", "request-id", "x-request-id", "openai-processing-ms")
_SAFE = ":@-._~!$&'()*+,;="
METHODS = ("GET", "POST", "DELETE", "PUT", "PATCH")
TIMEOUTS = Timeouts(connect=10.0, first_token=300.0, total=1800.0)
AWS_EVENTS = "application/vnd.amazon.eventstream"


def quoted_path(rest: str) -> str:
    """The client's path, one segment at a time, re-quoted; ``.`` and ``..`` are refused."""
    segments = rest.split("/")
    if any(seg in (".", "..") for seg in segments):
        raise BadRequest("The path may not contain '.' or '..' segments.", code="invalid_path")
    return "/".join(quote(seg, safe=_SAFE) for seg in segments)


class Passthrough:
    def __init__(self, config: GatewayConfig, gateway: Gateway) -> None:
        self.config = config
        self.gateway = gateway
        self.signer = Signer()

    def _configured(self, provider: str) -> tuple[str | None, str | None, dict[str, Any]]:
        """The provider's base URL, key and options: its config defaults, else (each) from its
        first deployment in config."""
        defaults = self.config.providers.get(provider)
        base = defaults.api_base if defaults else None
        key = defaults.api_key if defaults else None
        options = dict(defaults.options) if defaults else {}
        for model in self.config.models:
            for spec in model.deployments:
                if spec.provider == provider:
                    base = base or spec.api_base
                    key = key or spec.api_key
                    options = options or dict(spec.options)
        return base, key, options

    def target(self, provider: str) -> tuple[str, str | None]:
        """The provider's base URL and key: its config defaults, else its first deployment in
        config, else its environment variable and public base URL."""
        base, key, _options = self._configured(provider)
        if key is None:
            env = key_env(provider)
            key = self.gateway.environ.get(env) if env else None
        base = base or default_base(provider)
        if not base:
            raise NotFound(f"The provider '{provider}' has no base URL configured for pass-through.")
        return base.rstrip("/"), key

    async def handle(self, request: Request, principal: Principal, provider: str) -> Response | StreamingResponse:
        rest = request.path_params["rest"]
        path = quoted_path(rest)
        body: Any = None
        if request.body and (request.header(b"content-type") or b"").startswith(b"application/json"):
            try:
                body = orjson.loads(request.body)
            except orjson.JSONDecodeError:
                body = None
        model = model_of(provider, rest, body)
        if principal.allowed_models is not None:
            if model is None:
                raise PermissionDenied("This key may only use named models; the request names none.")
            if model not in principal.allowed_models and f"{provider}/{model}" not in principal.allowed_models:
                raise NotFound(
                    f"The model '{model}' does not exist or is not available to this key.",
                    code="model_not_found",
                    param="model",
                )
        query = [(k, v) for k, v in parse_qsl(request.scope.get("query_string", b"").decode()) if k != "key"]
        suffix = f"?{urlencode(query)}" if query else ""
        url: str | URL
        if signs_requests(provider):
            base, key, options = self._configured(provider)
            url, headers, key = await self.signer.sign(
                request.headers, request.method, path + suffix, request.body or b"", base, key, options
            )
        else:
            base, key = self.target(provider)
            url = f"{base}/{path}" + suffix
            headers = forwarded_headers(request.headers)
            headers.update(upstream_auth(provider, key))
        public = f"{provider}/{model}" if model else f"{provider}/{rest.split('/', 1)[0] or 'api'}"
        ctx = RequestContext(
            request_id=request.path_params.get("request_id") or new_request_id(),
            principal=principal,
            model=public[:200],
            stream=False,
            endpoint="passthrough",
        )
        ctx.trace.deployment = Deployment(
            id=f"passthrough:{provider}", public_name=public[:200], provider=provider, model=model or "unknown"
        )
        await self.gateway.admit(ctx, body if isinstance(body, dict) else {})
        http = self.gateway.http_session()
        try:
            resp = await http.request(
                request.method,
                url,
                data=request.body or None,
                headers=headers,
                timeout=client_timeout(TIMEOUTS, stream=True),
                allow_redirects=False,
            )
        except Exception as exc:
            error = transport_error(provider, exc)
            ctx.error, ctx.status = error, "error"
            await self.gateway.finish(ctx)
            raise error from exc
        out_headers = [(k.lower().encode(), v.encode()) for k, v in resp.headers.items() if k.lower() in _RESPONSE_KEEP]
        out_headers.append((b"x-unigate-provider", provider.encode()))
        if resp.status >= 400:
            ctx.status = "error"
            ctx.error = GatewayError(f"{provider}: upstream returned HTTP {resp.status}", code="upstream_error")
        content_type = resp.headers.get("content-type", "")
        if "text/event-stream" in content_type or AWS_EVENTS in content_type:
            ctx.stream = True
            reader = AwsEventReader() if AWS_EVENTS in content_type else SseReader()
            relay = self._relay_events(ctx, provider, resp, Redactor(key), reader)
            return StreamingResponse(relay, resp.status, out_headers)
        try:
            raw = await resp.read()
        except Exception as exc:
            error = transport_error(provider, exc)
            ctx.error, ctx.status = error, "error"
            await self.gateway.finish(ctx)
            raise error from exc
        finally:
            resp.release()
        if resp.status < 400 and "json" in content_type:
            try:
                ctx.usage = usage_of(provider, orjson.loads(raw))
            except orjson.JSONDecodeError:
                ctx.usage = None
        await self.gateway.finish(ctx)
        if ctx.cost is not None:
            out_headers.append((b"x-unigate-cost", f"{ctx.cost:.10f}".rstrip("0").rstrip(".").encode() or b"0"))
        return Response(Redactor(key).whole(raw), resp.status, out_headers)  # an error may echo the key

    async def _relay_events(
        self,
        ctx: RequestContext,
        provider: str,
        resp: aiohttp.ClientResponse,
        redactor: Redactor,
        reader: SseReader | AwsEventReader,
    ) -> AsyncIterator[bytes]:
        """Relay the upstream's events byte for byte (the key redacted), reading usage from
        them as they pass (server-sent events, or AWS event-stream messages)."""
        try:
            async for piece in resp.content.iter_any():
                out = redactor.piece(piece)
                if out:
                    yield out
                for payload in reader.feed(piece):
                    ctx.usage = merge_usage(ctx.usage, usage_of(provider, payload))
            rest = redactor.rest()
            if rest:
                yield rest
        except GatewayError as exc:
            ctx.error, ctx.status = exc, "error"
            raise
        except BaseException as exc:
            if not isinstance(exc, Exception):
                ctx.status = "cancelled"
                raise
            error = transport_error(provider, exc)
            ctx.error, ctx.status = error, "error"
            raise error from exc
        finally:
            resp.close()
            await self.gateway.finish(ctx)


def register(routes: Routes, services: Services) -> None:
    surface = Passthrough(services.config, services.gateway)

    def handler(provider: str) -> Any:
        async def forward(request: Request, principal: Principal) -> Response | StreamingResponse:
            return await surface.handle(request, principal, provider)

        return forward

    async def openai_alias(request: Request, principal: Principal) -> Response | StreamingResponse:
        """``/openai/v1/...`` is the gateway's own ``/v1/...``."""
        path = "/v1/" + request.path_params["rest"]
        route = routes.match(request.method, path, request)
        if route.public:
            return await route.handler(request)
        return await route.handler(request, principal)

    for provider in providers():
        forward = handler(provider)
        for method in METHODS:
            routes.route(method, f"/{provider}/*", forward)
    for method in METHODS:
        routes.route(method, "/openai/v1/*", openai_alias)
