"""Model groups: the public model names a gateway serves and the deployments behind each.

:class:`ModelGroups` owns them: built once from the config (configured models, the embedded
local model, then models discovered from provider keys in the environment) and read by
everything that needs to know what a name means (the router, the pipeline, auto routing, the
accounts hook's price look-ups, metrics, the dashboard, ``/v1/models``).

``provider/<any model>`` names are resolved on demand when that provider is configured or its key
is in the environment (:meth:`ModelGroups.resolve`); the first :data:`MAX_DYNAMIC_GROUPS` such
names are remembered, so they keep routing statistics and show in listings (clients choose these
names, so memory stays bounded).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from unigate.catalog import Catalog, ModelInfo, Price
from unigate.config import GatewayConfig, ModelConfig, ModelRoutingConfig
from unigate.errors import model_not_found
from unigate.providers.registry import LOCAL_PROVIDERS, discoverable_providers, key_env
from unigate.types import Deployment, Timeouts

MAX_DYNAMIC_GROUPS = 1000  # "provider/<any model>" groups remembered for routing statistics
OVERFLOW_ID = "*"  # the deployment id suffix shared by dynamic names past MAX_DYNAMIC_GROUPS


@dataclass
class ModelGroup:
    name: str
    deployments: list[Deployment]
    routing: ModelRoutingConfig = field(default_factory=ModelRoutingConfig)


class ModelGroups(Mapping[str, ModelGroup]):
    """Public model name → :class:`ModelGroup` (a read-only mapping, plus :meth:`resolve`)."""

    def __init__(
        self,
        groups: dict[str, ModelGroup],
        config: GatewayConfig,
        catalog: Catalog,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self._groups = groups
        self.config = config
        self.catalog = catalog
        self._environ = dict(os.environ if environ is None else environ)
        self._dynamic_names = 0
        # what the config (and the environment's providers) serve; remembered client-chosen
        # provider/<model> names are routable but never listed
        self.configured = frozenset(groups)

    @classmethod
    def from_config(
        cls, config: GatewayConfig, catalog: Catalog, environ: Mapping[str, str] | None = None
    ) -> ModelGroups:
        env = dict(os.environ if environ is None else environ)
        return cls(build_groups(config, catalog, env), config, catalog, env)

    # -- Mapping (get and __contains__ are the dict's own: they are on the hot path) ----------

    def __getitem__(self, name: str) -> ModelGroup:
        return self._groups[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._groups)

    def __len__(self) -> int:
        return len(self._groups)

    def __contains__(self, name: object) -> bool:
        return name in self._groups

    def get(self, name: str, default: Any = None) -> Any:
        return self._groups.get(name, default)

    @property
    def environ(self) -> Mapping[str, str]:
        """The environment provider keys are read from."""
        return self._environ

    def listed(self) -> list[str]:
        """The names ``/v1/models`` lists: configured, local and discovered ones, in that order."""
        return [name for name in self._groups if name in self.configured]

    # -- resolution --------------------------------------------------------------------------

    def resolve(self, name: str) -> ModelGroup | None:
        """The group for ``name``, including ``provider/<any model>`` for an available provider."""
        return self._groups.get(name) or self._dynamic(name)

    def require(self, name: str) -> ModelGroup:
        group = self.resolve(name)
        if group is None:
            raise model_not_found(name)
        return group

    def find(self, name: str) -> ModelGroup | None:
        """Like :meth:`resolve`, without remembering a dynamic group (for look-ups that are not
        a request to route, e.g. pricing a fallback chain)."""
        return self._groups.get(name) or self._dynamic_candidate(name)

    def _dynamic_candidate(self, name: str) -> ModelGroup | None:
        provider, sep, model = name.partition("/")
        if not sep or not model or not self._provider_available(provider):
            return None
        deployment = _deployment(self.config, name, 0, provider, model, None, self._environ)
        if self._dynamic_names >= MAX_DYNAMIC_GROUPS:
            # past the names remembered, one shared identity per provider for everything kept per
            # deployment (routing and latency statistics, cooldowns, capability and price caches,
            # metrics): client-chosen names cannot grow that state; the request still goes to
            # the model it names
            deployment = dataclasses.replace(deployment, id=f"{provider}/{OVERFLOW_ID}")
        return ModelGroup(name, [deployment])

    def _dynamic(self, name: str) -> ModelGroup | None:
        group = self._dynamic_candidate(name)
        if group is None:
            return None
        self._dynamic_names += 1
        if self._dynamic_names <= MAX_DYNAMIC_GROUPS:
            self._groups[name] = group
        return group

    def _provider_available(self, provider: str) -> bool:
        if provider in self.config.providers:
            return True
        env = key_env(provider)
        return bool(env and self._environ.get(env)) and self.config.discover_providers

    def providers_of(self, name: str) -> frozenset[str]:
        """Which providers may serve ``name`` (empty when only routing will tell, e.g. auto)."""
        group = self._groups.get(name)
        if group is not None:
            return frozenset(d.provider for d in group.deployments)
        provider, sep, rest = name.partition("/")
        return frozenset({provider}) if sep and rest else frozenset()

    # -- descriptions ------------------------------------------------------------------------

    def info(self, name: str) -> ModelInfo | None:
        group = self._groups.get(name)
        if group is None:
            return None
        first = group.deployments[0]
        return self.catalog.info(first.provider, first.model, name)

    def describe(self, name: str) -> dict[str, Any]:
        """The ``/v1/models/{name}`` object: OpenAI's fields plus what the catalog knows."""
        group = self._groups.get(name)
        if group is None:
            raise model_not_found(name, reason="listed")
        info = self.info(name)
        assert info is not None
        first = group.deployments[0]
        price = info.price
        from unigate.catalog.media import ENDPOINTS, modalities

        # a model the catalog does not know: chat (its provider's kind), as configured or not
        endpoints = self.catalog.endpoints(first.provider, first.model, name) or frozenset(
            ["embeddings"] if info.embedding else ["chat"]
        )
        media = self.catalog.media(first.provider, first.model)
        audio_in = media is not None and media.audio_in
        audio_out = media is not None and media.audio_out
        return {
            "id": name,
            "object": "model",
            "created": 0,
            "owned_by": first.provider,
            "providers": sorted({d.provider for d in group.deployments}),
            "context_window": info.context_window,
            "max_output_tokens": info.max_output_tokens,
            "modalities": modalities(endpoints, info.vision, audio_in, audio_out),
            "endpoints": sorted(endpoints, key=ENDPOINTS.index),
            "capabilities": info.capabilities(),
            "pricing": None
            if price is None
            else {
                "input_per_mtok": price.input,
                "output_per_mtok": price.output,
                "cached_input_per_mtok": price.cached_input,
                "currency": "USD",
            },
            "media_pricing": _media_pricing(self.catalog.media_price(first.provider, first.model, name))
            if endpoints - {"chat", "embeddings"}
            else None,
            "local": all(d.provider in LOCAL_PROVIDERS for d in group.deployments),
        }


def _media_pricing(price: Any) -> dict[str, Any] | None:
    """A media model's prices in /v1/models (USD): only the units it is billed in."""
    if price is None or price.empty:
        return None
    out: dict[str, Any] = {
        name: getattr(price, name)
        for name in ("per_minute", "per_mchar", "per_search")
        if getattr(price, name) is not None
    }
    if price.per_image:
        out["per_image"] = dict(price.per_image)
    return {**out, "currency": "USD"} if out else None


# ---------------------------------------------------------------------------------------------
# Building model groups from config


def _deployment(
    config: GatewayConfig,
    public_name: str,
    index: int,
    provider: str,
    model: str,
    spec: Any,
    environ: Mapping[str, str],
) -> Deployment:
    defaults = config.providers.get(provider)
    api_key = getattr(spec, "api_key", None) or (defaults.api_key if defaults else None)
    if api_key is None:
        env = key_env(provider)
        api_key = environ.get(env) if env else None
    timeouts_cfg = getattr(spec, "timeouts", None) or (defaults.timeouts if defaults else None)
    headers = {**(defaults.headers if defaults else {}), **(getattr(spec, "headers", None) or {})}
    options = {**(defaults.options if defaults else {}), **(getattr(spec, "options", None) or {})}
    return Deployment(
        id=getattr(spec, "id", None) or (f"{public_name}#{index}" if index else public_name),
        public_name=public_name,
        provider=provider,
        model=model,
        api_base=getattr(spec, "api_base", None) or (defaults.api_base if defaults else None),
        api_key=api_key,
        weight=getattr(spec, "weight", 1.0),
        headers=tuple(headers.items()),
        timeouts=Timeouts(**timeouts_cfg.model_dump()) if timeouts_cfg else Timeouts(),
        options=tuple(options.items()),
        rpm=getattr(spec, "rpm", None),
        tpm=getattr(spec, "tpm", None),
    )


def _apply_overrides(catalog: Catalog, model: ModelConfig) -> None:
    if model.media_pricing is not None:
        from unigate.catalog.media import price_from_mapping

        catalog.set_media_price_override(model.name, price_from_mapping(model.media_pricing.model_dump()))
    if model.capabilities is not None and model.capabilities.endpoints is not None:
        catalog.set_endpoints_override(model.name, frozenset(model.capabilities.endpoints))
    pricing = model.pricing
    if pricing is not None:  # the public model's own price, whatever upstream id serves it
        catalog.set_price_override(
            model.name,
            Price(
                pricing.input_per_mtok,
                pricing.output_per_mtok,
                pricing.cached_input_per_mtok,
                pricing.cache_write_per_mtok,
                pricing.cache_write_1h_per_mtok,
            ),
        )


def build_groups(config: GatewayConfig, catalog: Catalog, environ: Mapping[str, str]) -> dict[str, ModelGroup]:
    """Public model name → group: configured models, the local model, then discovered providers."""
    groups: dict[str, ModelGroup] = {}
    for model in config.models:
        deployments = [
            _deployment(config, model.name, i, spec.provider, spec.model, spec, environ)
            for i, spec in enumerate(model.deployments)
        ]
        _apply_overrides(catalog, model)
        groups[model.name] = ModelGroup(model.name, deployments, model.routing)

    local = config.local_model
    if local.enabled and local.name not in groups:
        groups[local.name] = ModelGroup(
            local.name,
            [
                Deployment(
                    id=local.name,
                    public_name=local.name,
                    provider="local",
                    model=local.model,
                    options=tuple(local.options.items()),
                    timeouts=Timeouts(first_token=120.0, total=600.0),
                )
            ],
        )

    if config.discover_providers:
        for provider in discoverable_providers():
            env = key_env(provider)
            if not env or not environ.get(env):
                continue
            for model_id in catalog.default_models(provider):
                name = f"{provider}/{model_id}"
                if name not in groups:
                    groups[name] = ModelGroup(name, [_deployment(config, name, 0, provider, model_id, None, environ)])
                # the bare upstream id is an alias for the first provider that offers it (not for
                # ids with a slash: "openai/gpt-oss-120b" on Groq must not look like an OpenAI model)
                if model_id not in groups and "/" not in model_id:
                    groups[model_id] = ModelGroup(
                        model_id, [_deployment(config, model_id, 0, provider, model_id, None, environ)]
                    )
    return groups
