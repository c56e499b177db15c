"""The HTTP server: an ASGI app built by :mod:`unigate.composition`, one module per API surface."""

from __future__ import annotations

import os

from unigate.config import GatewayConfig, load_config
from unigate.server.app import App

CONFIG_ENV = "UNIGATE_CONFIG"


def create_app(config: GatewayConfig) -> App:
    """Build the ASGI app for ``config`` (see :mod:`unigate.composition`)."""
    from unigate.composition import build_app

    return build_app(config)


def app_factory() -> App:
    """Entry point for uvicorn (``--factory``), used for multi-worker serving: config from env."""
    path = os.environ.get(CONFIG_ENV) or None
    return create_app(load_config(path))
