"""Server wiring for routing: shared cooldown state when ``redis_url`` is configured.

``gateway.health`` (read by ``/health/ready``) is the router's :class:`~unigate.routing.health.Health`;
with ``redis_url`` set, its circuits live in Redis so every replica sees the same cooldowns.
"""

from __future__ import annotations

from typing import Any

from unigate.routing.health import Health
from unigate.state.circuits import RedisHealthStore


def install(app: Any) -> None:
    gateway = app.gateway
    url = gateway.config.redis_url
    if not url:
        return
    health = Health(RedisHealthStore.from_url(url))
    gateway.health = health
    app.on_shutdown.append(health.aclose)
