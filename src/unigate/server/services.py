"""What a surface may use, handed to each surface's ``register(routes, services)`` by the
composition root: the pipeline (``gateway``), the optional parts that exist in this process
(``None`` when switched off in the config), the ``lifecycle`` where a surface that owns
something (a store, a connection) adds its start-up and shutdown steps, and the gateway's
``hooks`` where a surface that watches every request (moderation, the batch runner's traffic
gauge) adds its hook."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from unigate.config import GatewayConfig
from unigate.context import Hooks, Principal
from unigate.gateway import Gateway
from unigate.server.app import Lifecycle, Readiness
from unigate.server.auth import Authenticator
from unigate.server.http import Response, StreamingResponse

if TYPE_CHECKING:
    from unigate.accounts.portal import Portal
    from unigate.accounts.runtime import AccountsRuntime
    from unigate.observability.hook import ObservabilityHook
    from unigate.routing.auto.runtime import AutoRuntime


# Serves a request made inside the gateway (method, path, body, as whom, request id) through the
# same route and handler as a client's: App.dispatch.
Dispatch = Callable[[str, str, bytes, Principal, str], Awaitable[Response | StreamingResponse]]


@dataclass(frozen=True, slots=True)
class Services:
    config: GatewayConfig
    gateway: Gateway
    authenticator: Authenticator
    readiness: Readiness
    lifecycle: Lifecycle
    hooks: Hooks  # the gateway's hooks: a surface that brings one adds it here
    dispatch: Dispatch
    accounts: AccountsRuntime | None = None
    portal: Portal | None = None
    observability: ObservabilityHook | None = None
    auto: AutoRuntime | None = None
