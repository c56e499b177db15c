"""What one process holds for auto routing: the selector (the Gateway's ``auto``), its request
hook, the feedback store, and their start-up and shutdown. Built by the composition root; the
HTTP routes (``POST /v1/feedback``, ``GET /v1/auto/policies``) are the server's
(:mod:`unigate.server.auto_api`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from unigate.routing.auto.accounting import AutoHook
from unigate.routing.auto.feedback import FeedbackStore, PromptStore
from unigate.routing.auto.policy import Policy, build_policy, policy_configs
from unigate.routing.auto.profiles import catalog_profile_quality, resolve_profiles
from unigate.routing.auto.scoring import Scorers
from unigate.routing.auto.selector import AutoRouter
from unigate.routing.auto.stats import LiveStats
from unigate.routing.auto.thresholds import resolve_threshold

if TYPE_CHECKING:
    from unigate.catalog import Catalog
    from unigate.routing.groups import ModelGroups
    from unigate.routing.health import Health
    from unigate.routing.stats import Stats


def build_router(
    models: ModelGroups,
    scorers: Scorers | None = None,
    *,
    health: Health | None = None,
    stats: Stats | None = None,
) -> tuple[AutoRouter, AutoHook]:
    """The selector and its hook for the served ``models`` (config, catalog and groups)."""
    config = models.config
    auto = config.auto
    policies: dict[str, Policy] = {}
    for name, policy_config in policy_configs(auto).items():
        policy = build_policy(models, policy_config)
        policy.threshold, policy.threshold_source = resolve_threshold(policy_config, None)
        policies[name] = policy
    live = LiveStats(health, stats)
    router = AutoRouter(
        models,
        policies,
        auto.default_policy,
        scorers or Scorers(),
        live,
        record_prompts=auto.record_prompts,
        prepare=lambda selector: prepare(selector, models.catalog),
    )
    candidates = {c.name: c for p in policies.values() for c in p.candidates}
    prompts = PromptStore(config.data_dir, auto.max_recorded_prompts) if auto.record_prompts else None
    return router, AutoHook(models.catalog, router, live, candidates, prompts)


def prepare(router: AutoRouter, catalog: Catalog) -> None:
    """Load the policies' routers (off the request path), then resolve each policy's threshold,
    and for policies with a ``quality_target`` the router profile of each candidate."""
    quality: dict[str, float] = {}
    if any(p.config.quality_target is not None for p in router.policies.values()):
        known = [(m, catalog.info(p, m).quality) for p, m in catalog.known_models()]
        quality = catalog_profile_quality(known)
    for policy in router.policies.values():
        scorer = router.scorers.get(policy.config.router)
        policy.threshold, policy.threshold_source = resolve_threshold(policy.config, scorer)
        available = router.scorers.profiles(policy.config.router)
        if policy.config.quality_target is not None and available:
            policy.profiles = resolve_profiles(policy.candidates, policy.config.profiles, available, quality)
    for name in {p.config.router for p in router.policies.values()}:
        router.scorers.warm(name)


class AutoRuntime:
    def __init__(self, models: ModelGroups, *, health: Health | None = None, stats: Stats | None = None) -> None:
        self.catalog = models.catalog
        self.router, self.hook = build_router(models, health=health, stats=stats)
        self.feedback = FeedbackStore(models.config.data_dir)

    async def startup(self) -> None:
        # the routers load on the first auto request (AutoRouter.prepared): an idle gateway that
        # is never asked for auto routing does not hold numpy and the router artifacts
        if self.hook.prompts is not None:
            await self.hook.prompts.start()

    async def shutdown(self) -> None:
        if self.hook.prompts is not None:
            await self.hook.prompts.stop()

    async def prepared_policies(self) -> dict[str, Policy]:
        """``policies()`` with thresholds resolved from the routers (loading them if needed)."""
        await self.router.prepared()
        return self.policies()

    def policies(self) -> dict[str, Policy]:
        """Every name a client may send (``auto``, ``auto/<policy>``) → its policy."""
        return {name: self.router.policy(name) for name in self.router.names()}
