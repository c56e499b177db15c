"""The HTTP server: an ASGI app built by :mod:`unigate.composition`, one module per API surface."""

from __future__ import annotations

import json
import os

from unigate.config import GatewayConfig, load_config
from unigate.server.app import App

CONFIG_ENV = "UNIGATE_CONFIG"
OVERRIDES_ENV = "UNIGATE_SERVE_OVERRIDES"  # JSON: config sections `unigate serve` changed for its workers


def create_app(config: GatewayConfig, *, state_socket: str | None = None) -> App:
    """Build the ASGI app for ``config`` (see :mod:`unigate.composition`)."""
    from unigate.composition import build_app

    return build_app(config, state_socket=state_socket)


def app_factory() -> App:
    """Entry point for uvicorn (``--factory``), used for multi-worker serving: config from env."""
    path = os.environ.get(CONFIG_ENV) or None
    config = load_config(path)
    overrides = json.loads(os.environ.get(OVERRIDES_ENV) or "{}")
    for section, values in overrides.items():  # what `unigate serve` changed on its command line
        config = config.model_copy(update={section: getattr(config, section).model_copy(update=values)})
    from unigate.state.wire import SOCKET_ENV

    return create_app(config, state_socket=os.environ.get(SOCKET_ENV) or None)
