"""unigate: one OpenAI-compatible endpoint in front of every model a team uses."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["Gateway", "__version__", "load_config"]

if TYPE_CHECKING:
    from unigate.config import load_config
    from unigate.gateway import Gateway


def __getattr__(name: str) -> Any:
    # keep `import unigate` cheap: the gateway (aiohttp, pydantic) loads on first use
    if name == "Gateway":
        from unigate.gateway import Gateway

        return Gateway
    if name == "load_config":
        from unigate.config import load_config

        return load_config
    raise AttributeError(name)
