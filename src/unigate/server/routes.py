"""The route table: ``method path → handler``, filled by the surfaces (one module each), read by
the App for every request.

A handler registered ``public=True`` is called as ``handler(request)`` (no authentication: probes,
static assets, surfaces that answer auth errors in their own shape); any other as
``handler(request, principal)`` after the App's authenticator accepted the caller.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from unigate.context import Principal
from unigate.errors import GatewayError, NotFound
from unigate.server.http import Handler, Request, Response, StreamingResponse, error_response

# A handler that needs the caller gets it as a second argument.
AuthedHandler = Callable[[Request, Principal], Awaitable[Response | StreamingResponse]]
# Renders an error in a surface's own shape (OpenAI's by default): (error, request id) → response.
ErrorRenderer = Callable[[GatewayError, str], Response]


def openai_error(error: GatewayError, request_id: str) -> Response:
    return error_response(error)


@dataclass(slots=True)
class Route:
    handler: Any
    public: bool  # no authentication (health probes, static UI assets)
    prefix: bool = False
    errors: ErrorRenderer = openai_error
    max_body: int | None = None  # this route's body limit (uploads), else server.max_body_bytes


class MethodNotAllowed(GatewayError):
    status = 405
    error_type = "invalid_request_error"
    default_code = "method_not_allowed"


class Routes:
    def __init__(self) -> None:
        self._exact: dict[tuple[str, str], Route] = {}
        self._prefix: list[tuple[str, str, Route]] = []

    def route(
        self,
        method: str,
        path: str,
        handler: Handler | AuthedHandler,
        *,
        public: bool = False,
        errors: ErrorRenderer = openai_error,
        max_body: int | None = None,
    ) -> None:
        """Register ``handler`` for ``method path``; a path ending in ``/*`` matches a prefix and the
        rest of the path is in ``request.path_params["rest"]``. ``errors`` renders every error of
        the route — body limits, auth, validation, an unexpected exception — in its surface's shape."""
        if path.endswith("/*"):
            route = Route(handler, public, prefix=True, errors=errors, max_body=max_body)
            self._prefix.append((method, path[:-1], route))
            self._prefix.sort(key=lambda item: -len(item[1]))
        else:
            self._exact[(method, path)] = Route(handler, public, errors=errors, max_body=max_body)

    def paths(self) -> list[tuple[str, str]]:
        """Every registered ``(method, path)`` (prefix routes end in ``/*``)."""
        return [*self._exact, *((m, p + "*") for m, p, _ in self._prefix)]

    def match(self, method: str, path: str, request: Request) -> Route:
        route = self._exact.get((method, path))
        if route is not None:
            return route
        if len(path) > 1 and path.endswith("/"):
            route = self._exact.get((method, path.rstrip("/")))
            if route is not None:
                return route
        for route_method, prefix, candidate in self._prefix:
            if route_method == method and path.startswith(prefix):
                request.path_params["rest"] = path[len(prefix) :]
                return candidate
        if any(p == path for (_, p) in self._exact):
            raise MethodNotAllowed(f"Method {method} is not allowed on {path}.")
        raise NotFound(f"Unknown endpoint: {method} {path}", code="unknown_url")
