"""Helpers shared by the openai_compat provider tests."""

from __future__ import annotations

from unigate.types import Deployment


def deployment(provider: str = "openai", **kwargs) -> Deployment:
    return Deployment(id="d", public_name="public", provider=provider, model=kwargs.pop("model", "up-model"), **kwargs)
