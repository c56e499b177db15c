"""Wire auto routing into the server: ``gateway.auto``, the accounting hook, ``POST /v1/feedback``
and ``GET /v1/auto/policies``. Imported by ``server._install_optional_surfaces``."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from unigate.errors import BadRequest, NotFound, PermissionDenied
from unigate.routing.auto.accounting import AutoHook
from unigate.routing.auto.feedback import FeedbackStore, PromptStore, validate_feedback
from unigate.routing.auto.policy import Policy, build_policy, policy_configs
from unigate.routing.auto.profiles import catalog_profile_quality, resolve_profiles
from unigate.routing.auto.scoring import Scorers
from unigate.routing.auto.selector import AutoRouter
from unigate.routing.auto.stats import LiveStats
from unigate.routing.auto.thresholds import resolve_threshold

if TYPE_CHECKING:
    from unigate.gateway import Gateway, Principal
    from unigate.server.app import App
    from unigate.server.http import Request, Response

log = logging.getLogger("unigate.auto")


def build_router(app: App, scorers: Scorers | None = None) -> tuple[AutoRouter, AutoHook]:
    gateway = app.gateway
    auto = app.config.auto
    policies: dict[str, Policy] = {}
    for name, config in policy_configs(auto).items():
        policy = build_policy(gateway, config)
        policy.threshold, policy.threshold_source = resolve_threshold(config, None)
        policies[name] = policy
    live = LiveStats(gateway)
    router = AutoRouter(
        gateway, policies, auto.default_policy, scorers or Scorers(), live, record_prompts=auto.record_prompts
    )
    candidates = {c.name: c for p in policies.values() for c in p.candidates}
    prompts = PromptStore(app.config.data_dir, auto.max_recorded_prompts) if auto.record_prompts else None
    return router, AutoHook(gateway.catalog, router, live, candidates, prompts)


def prepare(router: AutoRouter, gateway: Gateway) -> None:
    """Load the policies' routers (off the request path), then resolve each policy's threshold,
    and for policies with a ``quality_target`` the router profile of each candidate."""
    quality: dict[str, float] = {}
    if any(p.config.quality_target is not None for p in router.policies.values()):
        known = [(m, gateway.catalog.info(p, m).quality) for p, m in gateway.catalog.known_models()]
        quality = catalog_profile_quality(known)
    for policy in router.policies.values():
        scorer = router.scorers.get(policy.config.router)
        policy.threshold, policy.threshold_source = resolve_threshold(policy.config, scorer)
        available = router.scorers.profiles(policy.config.router)
        if policy.config.quality_target is not None and available:
            policy.profiles = resolve_profiles(policy.candidates, policy.config.profiles, available, quality)
    for name in {p.config.router for p in router.policies.values()}:
        router.scorers.warm(name)


def install(app: App) -> None:
    if not app.config.auto.enabled:
        return
    from unigate.server.http import json_response

    gateway = app.gateway
    router, hook = build_router(app)
    gateway.auto = router
    gateway.hooks.insert(0, hook)  # first, so later hooks' after() see the estimated saving
    feedback = FeedbackStore(app.config.data_dir)

    async def startup() -> None:
        await asyncio.to_thread(prepare, router, gateway)
        if hook.prompts is not None:
            await hook.prompts.start()

    async def shutdown() -> None:
        if hook.prompts is not None:
            await hook.prompts.stop()

    app.on_startup.append(startup)
    app.on_shutdown.append(shutdown)

    async def post_feedback(request: Request, principal: Principal) -> Response:
        from unigate.server.unmetered import admit_unmetered
        from unigate.server.validation import parse_json_object

        await admit_unmetered(app, request, principal)
        body = parse_json_object(request.body, request.header(b"content-type"))
        record = validate_feedback(body)
        await check_owner(app, hook, record["request_id"], principal)
        record["key_id"] = principal.key_id
        try:
            await feedback.add(record)
        except OSError as exc:
            raise BadRequest(f"Feedback could not be stored: {exc.strerror}", code="feedback_not_stored") from exc
        hook.traffic.feedback(record["request_id"], record["score"])
        return json_response({"object": "feedback", "request_id": record["request_id"], "recorded": True})

    async def get_policies(request: Request, principal: Principal) -> Response:
        data = [{"id": name, **visible(policy.describe(), principal)} for name, policy in _named(router).items()]
        return json_response({"object": "list", "data": data})

    app.route("POST", "/v1/feedback", post_feedback)
    app.route("POST", "/feedback", post_feedback)

    async def get_stats(request: Request, principal: Principal) -> Response:
        if not principal.is_admin:  # spend and savings of every key: the operator's view
            raise PermissionDenied("Auto-routing statistics need the master key.", code="admin_only")
        return json_response({"object": "list", "data": hook.traffic.snapshot()})

    app.route("GET", "/v1/auto/policies", get_policies)
    app.route("GET", "/v1/auto/stats", get_stats)


async def check_owner(app: App, hook: AutoHook, request_id: str, principal: Principal) -> None:
    """Feedback is taken for the caller's own requests only (an admin's for any): the id must be
    a recent request of this process or in the ledger, made with the caller's key. Another key's
    id gets the same answer as an unknown one."""
    if request_id in hook.owners:
        found, owner = True, hook.owners[request_id]
    else:
        found, owner = await _ledger_owner(app, request_id)
    if found and (principal.is_admin or owner == principal.key_id):
        return
    raise NotFound(
        f"No request '{request_id}' made with this key is known (feedback is for your own recent requests).",
        param="request_id",
        code="unknown_request_id",
    )


async def _ledger_owner(app: App, request_id: str) -> tuple[bool, str | None]:
    try:
        from unigate.accounts.install import runtime_of
    except ModuleNotFoundError:
        return False, None
    runtime = runtime_of(app)
    if runtime is None:
        return False, None
    return await runtime.store.request_owner(request_id)


def visible(description: dict[str, Any], principal: Principal) -> dict[str, Any]:
    """A policy as a key may see it: only the candidate models the key may use."""
    allowed = principal.allowed_models
    if allowed is None:
        return description
    return {
        **description,
        "candidates": [name for name in description["candidates"] if name in allowed],
        "unavailable": [name for name in description["unavailable"] if name in allowed],
    }


def _named(router: AutoRouter) -> dict[str, Policy]:
    return {name: router.policy(name) for name in router.names()}
