"""Fallback chains: per group (config) and per request (``models`` / ``route``), by error class.

Per request, a client may send (both are consumed by the gateway, never forwarded upstream):

- ``"models": ["a", "b", …]`` — OpenRouter's convention: ``model`` is tried first, then each
  other name in ``models``, in order (``model`` itself may appear in the list; it is skipped);
- ``"route": {"fallbacks": [...], "context_window_fallbacks": [...], "content_filter_fallbacks":
  [...], "strategy": "...", "retries": N, "continue_on_failure": true}`` — every field optional.

Which chain follows a failed group: for a context-window error the request's
``context_window_fallbacks``, else the group's; for a content-filter error likewise with
``content_filter_fallbacks``; for anything else (and when no class-specific chain exists) the
request's ``fallbacks``/``models``, else the group's ``fallbacks``. Groups reached by falling
back add their own configured chains after, each group tried at most once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from unigate.config import ModelRoutingConfig
from unigate.context import may_use
from unigate.errors import BadRequest, model_not_found
from unigate.routing.retry import Disposition
from unigate.routing.strategies import STRATEGIES


@dataclass(frozen=True, slots=True)
class RouteOptions:
    fallbacks: tuple[str, ...] | None = None
    context_window_fallbacks: tuple[str, ...] | None = None
    content_filter_fallbacks: tuple[str, ...] | None = None
    strategy: str | None = None
    retries: int | None = None
    continue_on_failure: bool | None = None

    @property
    def has_chain(self) -> bool:
        return bool(self.fallbacks or self.context_window_fallbacks or self.content_filter_fallbacks)


NO_OPTIONS = RouteOptions()
_ROUTE_FIELDS = frozenset(
    {"fallbacks", "context_window_fallbacks", "content_filter_fallbacks", "strategy", "retries", "continue_on_failure"}
)


def _names(
    value: Any, param: str, primary: str, groups: Mapping[str, Any], allowed: frozenset[str] | None
) -> tuple[str, ...] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise BadRequest(f"'{param}' must be an array of model names.", param=param, code="invalid_value")
    out: list[str] = []
    for name in value:
        if name == primary or name in out:
            continue
        if name not in groups or not may_use(allowed, name):
            raise model_not_found(name, param=param, reason="allowed")
        out.append(name)
    return tuple(out)


def parse_options(
    request: Mapping[str, Any], groups: Mapping[str, Any], allowed: frozenset[str] | None = None
) -> RouteOptions:
    """The request's routing overrides; ``NO_OPTIONS`` (no work) when it has none."""
    models = request.get("models")
    route = request.get("route")
    if models is None and route is None:
        return NO_OPTIONS
    primary = request.get("model", "")
    fallbacks = _names(models, "models", primary, groups, allowed)
    if route is None:
        return RouteOptions(fallbacks=fallbacks)
    if not isinstance(route, dict):
        raise BadRequest("'route' must be an object.", param="route", code="invalid_value")
    unknown = set(route) - _ROUTE_FIELDS
    if unknown:
        raise BadRequest(
            f"Unknown field(s) in 'route': {', '.join(sorted(unknown))}.", param="route", code="invalid_value"
        )
    route_fallbacks = _names(route.get("fallbacks"), "route.fallbacks", primary, groups, allowed)
    if route_fallbacks is not None:
        fallbacks = (*(fallbacks or ()), *(n for n in route_fallbacks if n not in (fallbacks or ())))
    strategy = route.get("strategy")
    if strategy is not None and strategy not in STRATEGIES:
        raise BadRequest(
            f"'route.strategy' must be one of {', '.join(STRATEGIES)}.", param="route.strategy", code="invalid_value"
        )
    retries = route.get("retries")
    if retries is not None and (isinstance(retries, bool) or not isinstance(retries, int) or not 0 <= retries <= 5):
        raise BadRequest("'route.retries' must be an integer from 0 to 5.", param="route.retries", code="invalid_value")
    cont = route.get("continue_on_failure")
    if cont is not None and not isinstance(cont, bool):
        raise BadRequest(
            "'route.continue_on_failure' must be a boolean.", param="route.continue_on_failure", code="invalid_value"
        )
    return RouteOptions(
        fallbacks=fallbacks,
        context_window_fallbacks=_names(
            route.get("context_window_fallbacks"), "route.context_window_fallbacks", primary, groups, allowed
        ),
        content_filter_fallbacks=_names(
            route.get("content_filter_fallbacks"), "route.content_filter_fallbacks", primary, groups, allowed
        ),
        strategy=strategy,
        retries=retries,
        continue_on_failure=cont,
    )


def chain(
    routing: ModelRoutingConfig, disposition: Disposition | None, options: RouteOptions, primary: bool
) -> list[str]:
    """The groups to try after a group failed with ``disposition`` (``None``: nothing was tried)."""
    request = options if primary else NO_OPTIONS
    if disposition is Disposition.CONTEXT:
        specific = request.context_window_fallbacks or routing.context_window_fallbacks
        if specific:
            return list(specific)
    elif disposition is Disposition.CONTENT:
        specific = request.content_filter_fallbacks or routing.content_filter_fallbacks
        if specific:
            return list(specific)
    if request.fallbacks is not None:
        return list(request.fallbacks)
    return list(routing.fallbacks)
