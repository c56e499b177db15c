"""What a surface may use, handed to each surface's ``register(routes, services)`` by the
composition root: the pipeline (``gateway``), the optional parts that exist in this process
(``None`` when switched off in the config), and the ``lifecycle`` where a surface that owns
something (a store, a connection) adds its start-up and shutdown steps."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from unigate.config import GatewayConfig
from unigate.gateway import Gateway
from unigate.server.app import Lifecycle, Readiness
from unigate.server.auth import Authenticator

if TYPE_CHECKING:
    from unigate.accounts.portal import Portal
    from unigate.accounts.runtime import AccountsRuntime
    from unigate.observability.hook import ObservabilityHook
    from unigate.routing.auto.runtime import AutoRuntime


@dataclass(frozen=True, slots=True)
class Services:
    config: GatewayConfig
    gateway: Gateway
    authenticator: Authenticator
    readiness: Readiness
    lifecycle: Lifecycle
    accounts: AccountsRuntime | None = None
    portal: Portal | None = None
    observability: ObservabilityHook | None = None
    auto: AutoRuntime | None = None
