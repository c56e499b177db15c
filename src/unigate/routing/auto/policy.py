"""Auto-routing policies: the built-in ``cheap`` / ``balanced`` / ``best`` and those in config,
resolved against the served models once at startup."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from unigate.config import AutoConfig, AutoPolicyConfig
from unigate.routing.auto.candidates import Candidate, build_candidate, chat_model_names

if TYPE_CHECKING:
    from unigate.routing.groups import ModelGroups

log = logging.getLogger("unigate.auto")

PREFIX = "auto"

# Built-in policies; a config policy with the same name replaces one.
BUILTIN: dict[str, AutoPolicyConfig] = {
    "cheap": AutoPolicyConfig(name="cheap", target_strong_share=0.1),
    "balanced": AutoPolicyConfig(name="balanced", target_strong_share=0.3),
    "best": AutoPolicyConfig(name="best", threshold=0.0),
}


@dataclass(slots=True)
class Policy:
    name: str
    config: AutoPolicyConfig
    candidates: list[Candidate]
    unavailable: list[str] = field(default_factory=list)  # configured names the gateway does not serve
    threshold: float = 0.5
    threshold_source: str = "default"
    profiles: dict[str, str] = field(default_factory=dict)  # candidate → router profile (N-model choice)

    @property
    def public_name(self) -> str:
        return f"{PREFIX}/{self.name}"

    def describe(self) -> dict[str, Any]:
        return {
            "policy": self.public_name,
            "threshold": self.threshold,
            "threshold_source": self.threshold_source,
            "candidates": [c.name for c in self.candidates],
            "unavailable": self.unavailable,
            "quality_target": self.config.quality_target,
            "profiles": self.profiles,
        }


def policy_configs(auto: AutoConfig) -> dict[str, AutoPolicyConfig]:
    configs = dict(BUILTIN)
    configs.update({p.name: p for p in auto.policies})
    return configs


def build_policy(models: ModelGroups, config: AutoPolicyConfig) -> Policy:
    names = config.candidates if config.candidates is not None else chat_model_names(models)
    candidates: list[Candidate] = []
    unavailable: list[str] = []
    for name in names:
        candidate = build_candidate(models, name)
        if candidate is None:
            unavailable.append(name)
        else:
            candidates.append(candidate)
    if unavailable:
        log.warning("auto policy %r: candidates not served by this gateway: %s", config.name, ", ".join(unavailable))
    return Policy(config.name, config, candidates, unavailable)
