"""Provider id → implementation, in one table. Native modules are imported on first use so
``import unigate`` stays cheap and a deployment of one provider never loads another's code."""

from __future__ import annotations

import importlib
from typing import Any

from unigate.errors import BadRequest
from unigate.providers import openai_compat
from unigate.providers.base import Capabilities, Provider, ProviderContext
from unigate.providers.openai_compat import COMPAT_PROVIDERS, OpenAICompatProvider
from unigate.types import Deployment

# id → "module:Class". Each class is constructed as Class(context).
NATIVE_PROVIDERS: dict[str, str] = {
    "anthropic": "unigate.providers.anthropic:AnthropicProvider",
    "gemini": "unigate.providers.gemini:GeminiProvider",
    "bedrock": "unigate.providers.bedrock:BedrockProvider",
    "cohere": "unigate.providers.cohere:CohereProvider",
    "local": "unigate.providers.local:LocalProvider",
}

# Environment variable holding each native provider's key (for zero-config discovery).
NATIVE_KEY_ENV: dict[str, str] = {
    "anthropic": "ANTHROPIC_API_KEY",
    "gemini": "GEMINI_API_KEY",
    "cohere": "COHERE_API_KEY",
}

LOCAL_PROVIDERS = frozenset({"local"} | {name for name, row in COMPAT_PROVIDERS.items() if row.local})


def provider_class(provider_id: str) -> Any:
    """The class implementing a native provider (imported on first use)."""
    target = NATIVE_PROVIDERS.get(provider_id)
    if target is None:
        raise BadRequest(f"unknown provider {provider_id!r}")
    module_name, _, class_name = target.partition(":")
    return getattr(importlib.import_module(module_name), class_name)


def capabilities(provider_id: str) -> Capabilities:
    """What a provider can do beyond chat; unknown ids can do nothing more."""
    row = COMPAT_PROVIDERS.get(provider_id)
    if row is not None:
        return OpenAICompatProvider.capabilities_of(row)
    if provider_id not in NATIVE_PROVIDERS:
        return Capabilities()
    found: Capabilities = provider_class(provider_id).capabilities
    return found


def discoverable_providers() -> list[str]:
    """Providers that can be found from a key in the environment, in the order their models are
    offered (the first to offer a bare upstream id gets the alias)."""
    return [*(name for name, row in COMPAT_PROVIDERS.items() if row.key_env), *NATIVE_KEY_ENV]


def serves_responses(deployment: Deployment) -> bool:
    """Whether a deployment takes Responses API requests natively (a per-deployment capability:
    the row's flag, overridable by the deployment's ``responses_api`` option)."""
    return openai_compat.serves_responses(deployment)


def provider_ids() -> list[str]:
    return sorted(set(COMPAT_PROVIDERS) | set(NATIVE_PROVIDERS))


def is_known(provider_id: str) -> bool:
    return provider_id in COMPAT_PROVIDERS or provider_id in NATIVE_PROVIDERS


def key_env(provider_id: str) -> str | None:
    row = COMPAT_PROVIDERS.get(provider_id)
    if row is not None:
        return row.key_env
    return NATIVE_KEY_ENV.get(provider_id)


def default_api_base(provider_id: str) -> str | None:
    row = COMPAT_PROVIDERS.get(provider_id)
    return row.base_url if row is not None else None


class ProviderSet:
    """The gateway's provider instances, created on first use and shared by all deployments."""

    def __init__(self, context: ProviderContext) -> None:
        self.context = context
        self._instances: dict[str, Any] = {}

    def get(self, provider_id: str) -> Provider:
        instance = self._instances.get(provider_id)
        if instance is None:
            instance = self._instances[provider_id] = self._create(provider_id)
        return instance

    def _create(self, provider_id: str) -> Any:
        row = COMPAT_PROVIDERS.get(provider_id)
        if row is not None:
            return OpenAICompatProvider(provider_id, row, self.context)
        return provider_class(provider_id)(self.context)

    def loaded(self) -> list[Any]:
        return list(self._instances.values())

    async def aclose(self) -> None:
        for instance in self._instances.values():
            close = getattr(instance, "aclose", None)
            if close is not None:
                await close()
