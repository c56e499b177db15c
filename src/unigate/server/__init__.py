"""The HTTP server: an ASGI app built from a Gateway, one module per API surface."""

from __future__ import annotations

import asyncio
import logging
import os

from unigate.config import GatewayConfig, load_config
from unigate.gateway import Gateway
from unigate.server.app import App

log = logging.getLogger("unigate.server")

CONFIG_ENV = "UNIGATE_CONFIG"


def create_app(config: GatewayConfig, gateway: Gateway | None = None) -> App:
    """Build the ASGI app: every API surface registered on one routing table."""
    from unigate.server import health, openai_api

    app = App(gateway or Gateway(config))
    health.install(app)
    openai_api.install(app)
    _install_optional_surfaces(app)
    _warm_local_model(app)
    return app


def _install_optional_surfaces(app: App) -> None:
    """Surfaces and plug-ins that live in their own packages register themselves here."""
    import importlib

    for module_name in (
        "unigate.server.anthropic_api",
        "unigate.server.responses_api",
        "unigate.server.audio_api",
        "unigate.server.images_api",
        "unigate.server.rerank_api",
        "unigate.server.moderation_api",
        "unigate.server.batches_api",
        "unigate.server.passthrough_api",
        "unigate.accounts.install",
        "unigate.server.portal_api",
        "unigate.routing.install",
        "unigate.routing.auto.install",
        "unigate.observability.install",
        "unigate.server.admin_api",
        "unigate.server.ui",
    ):
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            continue
        module.install(app)


def _warm_local_model(app: App) -> None:
    local = app.config.local_model
    if not (local.enabled and local.warmup):
        return

    async def warm() -> None:
        async def run() -> None:
            gateway = app.gateway
            group = gateway.groups.get(local.name)
            if group is None or gateway.providers is None:
                return
            deployment = group.deployments[0]
            provider = gateway.providers.get(deployment.provider)
            warmup = getattr(provider, "warmup", None)
            if warmup is not None:
                try:
                    await warmup(deployment)
                except Exception as exc:  # the gateway still serves every other model
                    log.warning("local model %s could not be loaded: %s", local.name, exc)

        app.background.append(asyncio.ensure_future(run()))

    app.on_startup.append(warm)


def app_factory() -> App:
    """Entry point for uvicorn (``--factory``), used for multi-worker serving: config from env."""
    path = os.environ.get(CONFIG_ENV) or None
    return create_app(load_config(path))
