"""The composition root: the one place that builds a gateway process from its config.

Everything is built here with plain imports and given to its users through their
constructors — nothing sets attributes on another object, nothing is looked up by name:

    catalog, model groups (routing)     what is served and at what price
    health, stats (routing)             cooldowns (shared by the workers, or via Redis), load
    state (state/)                      counters and reservations, when accounts are on
    accounts runtime                    store, key service, the accounting hook, ledger flusher
    auto runtime                        the auto selector, its hook, the feedback store
    observability hook                  metrics, dashboard series, request log, spans
    Gateway(config, hooks, auto, …)     the pipeline
    App(gateway, authenticator, routes) the ASGI app; each surface in SURFACES registers its routes

Hook order (docs/architecture.md): ``before`` in order, ``after`` in reverse. The order is:
accounts (limits, reservation; settle and ledger), observability (metrics, log, spans), the
surfaces' own hooks in SURFACES order (audio-chat check, moderation guard, batch traffic gauge), auto routing last
so that its ``after`` runs first and the ledger, metrics and log see the estimated saving.

Adding a surface: write one module under ``unigate/server/`` with
``register(routes: Routes, services: Services) -> None`` and add it to :data:`SURFACES`.
A bare ``Gateway(config)`` (no accounts, auto routing or observability) is what in-process
programs and ``unigate models`` use.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

from unigate.catalog import Catalog
from unigate.config import GatewayConfig
from unigate.context import Hooks
from unigate.gateway import Gateway
from unigate.observability.hook import ObservabilityHook
from unigate.routing.groups import ModelGroups
from unigate.routing.health import Health
from unigate.routing.stats import Stats
from unigate.server import (
    admin_api,
    anthropic_api,
    audio_api,
    auto_api,
    batches_api,
    health,
    images_api,
    metrics_api,
    moderation_api,
    openai_api,
    passthrough_api,
    portal_api,
    rerank_api,
    responses_api,
    ui,
)
from unigate.server.app import App, Lifecycle, Readiness
from unigate.server.auth import Authenticator, MasterKeyAuthenticator, VirtualKeyAuthenticator
from unigate.server.routes import Routes
from unigate.server.services import Services
from unigate.types import Deployment

log = logging.getLogger("unigate.server")

# Every inbound surface, in registration order. A surface is a module with
# ``register(routes: Routes, services: Services) -> None``.
SURFACES = (
    health,
    openai_api,
    anthropic_api,
    responses_api,
    audio_api,
    images_api,
    rerank_api,
    moderation_api,
    batches_api,
    passthrough_api,
    portal_api,
    auto_api,
    metrics_api,
    admin_api,
    ui,
)


def build_app(
    config: GatewayConfig, *, environ: Mapping[str, str] | None = None, state_socket: str | None = None
) -> App:
    """The whole server for ``config``: every part, every surface, their start-up and shutdown.
    ``state_socket``: a worker of ``unigate serve --workers N`` shares the state its parent
    hosts there (unigate/state/host.py), unless ``redis_url`` is set."""
    lifecycle = Lifecycle()
    catalog = Catalog()
    groups = ModelGroups.from_config(config, catalog, environ)
    link = None
    if state_socket and not config.redis_url:
        from unigate.state.link import StateLink

        link = StateLink(state_socket)
        lifecycle.shutdown.append(link.aclose)  # first in, so closed last (after the ledger's flush)
    health = _health(config, lifecycle, link)
    stats = Stats()

    hooks = Hooks()
    accounts = None
    if config.accounts.enabled:
        from unigate.accounts.runtime import AccountsRuntime
        from unigate.state import open_state

        state = open_state(config, link)
        if link is None:  # the link is closed once, last
            lifecycle.shutdown.append(_quietly(state.aclose))
        accounts = AccountsRuntime(config, state, groups, catalog)
        lifecycle.startup.append(accounts.startup)
        lifecycle.shutdown.append(accounts.shutdown)
        hooks.add(accounts.accountant)

    auto = None
    if config.auto.enabled:
        from unigate.routing.auto.runtime import AutoRuntime

        auto = AutoRuntime(groups, health=health, stats=stats)
        lifecycle.startup.append(auto.startup)
        lifecycle.shutdown.append(auto.shutdown)

    observability = ObservabilityHook(groups, config.observability, health=health)
    lifecycle.startup.append(observability.start)
    lifecycle.shutdown.append(observability.stop)
    hooks.add(observability)

    gateway = Gateway(
        config,
        catalog=catalog,
        groups=groups,
        hooks=hooks,
        auto=auto.router if auto is not None else None,
        health=health,
        stats=stats,
    )
    authenticator: Authenticator = (
        VirtualKeyAuthenticator(config.server.master_key, accounts.service)
        if accounts is not None
        else MasterKeyAuthenticator(config.server.master_key)
    )
    portal = None
    if config.portal.enabled:
        if accounts is None:
            raise RuntimeError("portal.enabled needs accounts.enabled")
        from unigate.accounts.portal import Portal
        from unigate.server.session_auth import SessionAuthenticator

        portal = Portal(config, accounts.service, accounts.store)
        lifecycle.shutdown.append(portal.aclose)
        # signed-in portal users (a session cookie) first, then keys
        authenticator = SessionAuthenticator(
            authenticator, portal.sessions, secure=portal.secure_cookies, public_url=portal.public_url
        )
    readiness = Readiness()
    routes = Routes()  # filled by the surfaces below; the app reads it per request
    app = App(gateway, authenticator, routes, lifecycle=lifecycle, readiness=readiness)
    services = Services(
        config,
        gateway,
        authenticator,
        readiness,
        lifecycle,
        hooks,
        app.dispatch,
        accounts=accounts,
        portal=portal,
        observability=observability,
        auto=auto,
    )
    for surface in SURFACES:
        surface.register(routes, services)
    if auto is not None:
        hooks.add(auto.hook)  # last: its after() runs first (see the module docstring)
    _warm_local_model(config, gateway, lifecycle)
    return app


def _health(config: GatewayConfig, lifecycle: Lifecycle, link: Any = None) -> Health:
    """Deployment cooldowns: in this process, in the state host (the workers of one machine),
    or in Redis (every replica sees the same) when ``redis_url`` is set."""
    if link is not None:
        from unigate.state.link import SharedHealthStore

        return Health(SharedHealthStore(link))
    if not config.redis_url:
        return Health()
    from unigate.state.circuits import RedisHealthStore

    health = Health(RedisHealthStore.from_url(config.redis_url))
    lifecycle.shutdown.append(health.aclose)
    return health


def _quietly(step: Any) -> Any:
    async def run() -> None:
        with contextlib.suppress(Exception):
            await step()

    return run


@runtime_checkable
class _Warmable(Protocol):
    async def warmup(self, deployment: Deployment) -> None: ...


def _warm_local_model(config: GatewayConfig, gateway: Gateway, lifecycle: Lifecycle) -> None:
    """Load the embedded model in the background after start-up (readiness does not wait)."""
    local = config.local_model
    if not (local.enabled and local.warmup):
        return

    async def warm() -> None:
        group = gateway.groups.get(local.name)
        if group is None or gateway.providers is None:
            return
        deployment = group.deployments[0]
        provider = gateway.providers.get(deployment.provider)
        if isinstance(provider, _Warmable):
            try:
                await provider.warmup(deployment)
            except Exception as exc:  # the gateway still serves every other model
                log.warning("local model %s could not be loaded: %s", local.name, exc)

    lifecycle.background.append(warm)
