"""``AutoRouter``: the gateway's ``AutoSelector`` for ``auto`` and ``auto/<policy>``.

Per request: constraints (``constraints.py``) → price/quality frontier and tier
(``tiers.py``) → ``request["model"]`` = the chosen public model. What was decided goes into
``ctx.extras["auto"]`` (for the ledger, logs and metrics) and into response headers:

``x-unigate-auto-model``     the chosen model
``x-unigate-auto-policy``    e.g. ``auto/balanced``
``x-unigate-auto-score``     the learned router's score (absent when not scored)
``x-unigate-auto-threshold`` the policy's threshold
``x-unigate-auto-success``   ``name=p;…`` predicted success per candidate (N-model choice only)
``x-unigate-auto-target``    the policy's quality target (N-model choice only)
``x-unigate-auto-rejected``  ``name=reason;…`` for every candidate not eligible (see constraints.py),
                             and ``below_target`` for cheaper candidates predicted to fall short
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from unigate.errors import BadRequest, model_not_found
from unigate.routing.auto.candidates import Candidate
from unigate.routing.auto.constraints import Limits, LiveView, reject_reason, tighter
from unigate.routing.auto.policy import PREFIX, Policy
from unigate.routing.auto.request import inspect, pop_route_overrides
from unigate.routing.auto.scoring import Scorers
from unigate.routing.auto.tiers import choose, choose_by_success, frontier, strong_tier

if TYPE_CHECKING:
    from collections.abc import Mapping

    from unigate.context import RequestContext
    from unigate.routing.groups import ModelGroup

MAX_REJECTED_HEADER = 1000
MAX_PENDING_PROMPTS = 10000


log = logging.getLogger("unigate.routing")


class NoEligibleModel(BadRequest):
    default_code = "no_eligible_model"


class AutoRouter:
    def __init__(
        self,
        groups: Mapping[str, ModelGroup],
        policies: dict[str, Policy],
        default_policy: str,
        scorers: Scorers,
        live: LiveView | None,
        *,
        record_prompts: bool = False,
        prepare: Callable[[AutoRouter], None] | None = None,
    ) -> None:
        self._groups = groups
        # loads the learned routers (numpy and their artifacts, ~24 MB) and resolves thresholds
        # from them: on the first request that needs it, not at start-up (runtime.prepare)
        self._prepare = prepare
        self._preparing: asyncio.Future[None] | None = None
        self.policies = policies
        self.default_policy = default_policy
        self.scorers = scorers
        self.live = live
        self.record_prompts = record_prompts
        self.pending_prompts: OrderedDict[str, str] = OrderedDict()  # request id → prompt (only if recording)
        by_name = {f"{PREFIX}/{name}": policy for name, policy in policies.items()}
        by_name[PREFIX] = policies[default_policy]
        self._by_name = by_name

    # -- AutoSelector ------------------------------------------------------------------------

    def handles(self, model: str) -> bool:
        return (model == PREFIX or model.startswith("auto/")) and model not in self._groups

    def names(self) -> list[str]:
        return list(self._by_name)

    def describe_model(self, name: str) -> dict[str, Any]:
        policy = self.policy(name)
        return {
            "id": name,
            "object": "model",
            "created": 0,
            "owned_by": "unigate",
            "auto_routing": {
                "policy": policy.public_name,
                "description": "each request goes to the cheapest candidate that meets the policy",
            },
        }

    def policy(self, model: str) -> Policy:
        policy = self._by_name.get(model)
        if policy is None:
            raise model_not_found(model, reason="policy", available=", ".join(self._by_name))
        return policy

    async def prepared(self) -> None:
        """Load the routers once, off the event loop; concurrent first requests wait together."""
        if self._prepare is None:
            return
        if self._preparing is None:
            self._preparing = asyncio.ensure_future(asyncio.to_thread(self._prepare, self))
        try:
            await asyncio.shield(self._preparing)
        except asyncio.CancelledError:
            raise  # this request went away; the loading goes on for the next
        except Exception:  # the configured thresholds stand; the strong tier covers a missing router
            log.exception("auto routing: could not load the routers")
        self._prepare = None

    async def select(self, ctx: RequestContext, request: dict[str, Any]) -> None:
        if self._prepare is not None:
            await self.prepared()
        self.decide(ctx, request)

    def decide(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        """Choose the model (synchronous: no I/O); returns the ``ctx.extras["auto"]`` record."""
        policy = self.policy(ctx.model)
        overrides = pop_route_overrides(request)
        needs = inspect(request)
        limits = self._limits(policy, overrides, ctx.principal.allowed_models)

        eligible: list[Candidate] = []
        rejected: dict[str, str] = {}
        allowed = ctx.principal.allowed_models
        for candidate in policy.candidates:
            reason = reject_reason(candidate, needs, limits, self.live)
            if reason is None:
                eligible.append(candidate)
            else:
                rejected[candidate.name] = reason
        for name in policy.unavailable:
            rejected[name] = "unavailable"
        # the record (logs, ledger) keeps every reason; what the caller sees names only models its
        # key may use: a restricted key never learns the names of the others
        shown = rejected if allowed is None else {n: r for n, r in rejected.items() if n in allowed}
        if not eligible:
            raise NoEligibleModel(
                _no_model_message(policy, shown),
                param="model",
                headers={"x-unigate-auto-policy": policy.public_name, "x-unigate-auto-rejected": _compact(shown)},
            )

        front, dominated = frontier(eligible)
        for candidate in dominated:
            rejected[candidate.name] = "dominated"
            shown[candidate.name] = "dominated"
        top = strong_tier(front, policy.config.strong_quality)
        score: float | None = None
        success: dict[str, float] = {}
        index: int | None = None
        target = policy.config.quality_target
        if top > 0 and target is not None and policy.profiles:
            score, success, index = self._by_success(policy, front, needs.prompt, target)
            if index is not None:
                for candidate in front[:index]:
                    if candidate.name in success:
                        rejected[candidate.name] = "below_target"
                        shown[candidate.name] = "below_target"
        if index is None:
            if score is None and top > 0 and policy.threshold > 0:
                score = self.scorers.score(policy.config.router, needs.prompt)
            index = choose(front, score, policy.threshold, policy.config.strong_quality)
        chosen, strongest = front[index], front[-1]

        request["model"] = chosen.name
        record: dict[str, Any] = {
            "chosen": chosen.name,
            "score": score,
            "threshold": policy.threshold,
            "policy": policy.public_name,
            "rejected": rejected,
            "tier": index,
            "strong": index >= top,
            "strongest": strongest.name,
            "estimated_saving_usd": None,
            "success": success,
            "quality_target": target if success else None,
        }
        ctx.extras["auto"] = record
        headers = ctx.extras.setdefault("response_headers", {})
        headers["x-unigate-auto-model"] = chosen.name
        headers["x-unigate-auto-policy"] = policy.public_name
        headers["x-unigate-auto-threshold"] = f"{policy.threshold:.4g}"
        if score is not None:
            headers["x-unigate-auto-score"] = f"{score:.4f}"
        if success:
            headers["x-unigate-auto-success"] = _compact({name: f"{p:.3f}" for name, p in success.items()})
            headers["x-unigate-auto-target"] = f"{target:.4g}"
        if shown:
            headers["x-unigate-auto-rejected"] = _compact(shown)
        if self.record_prompts:
            self.pending_prompts[ctx.request_id] = needs.prompt
            while len(self.pending_prompts) > MAX_PENDING_PROMPTS:
                self.pending_prompts.popitem(last=False)
        return record

    def _by_success(
        self, policy: Policy, front: list[Candidate], prompt: str, target: float
    ) -> tuple[float | None, dict[str, float], int | None]:
        """(score, predicted success per candidate, choice) of the N-model rule; choice None → tier rule."""
        wanted = sorted({policy.profiles[c.name] for c in front if c.name in policy.profiles})
        prediction = self.scorers.explain(policy.config.router, prompt, wanted)
        if prediction is None:
            return None, {}, None
        score, by_profile = prediction
        success = {
            c.name: by_profile[policy.profiles[c.name]] for c in front if policy.profiles.get(c.name) in by_profile
        }
        return score, success, choose_by_success(front, success, target)

    @staticmethod
    def _limits(policy: Policy, overrides: dict[str, Any], allowed: frozenset[str] | None) -> Limits:
        config = policy.config
        privacy: list[Any] = []
        if config.privacy != "any":
            privacy.append(config.privacy)
        if overrides.get("privacy") not in (None, "any"):
            privacy.append(overrides["privacy"])
        min_quality = config.min_quality
        if overrides.get("min_quality") is not None:
            min_quality = max(min_quality or 0.0, overrides["min_quality"])
        return Limits(
            privacy=privacy,
            max_price_per_mtok=tighter(config.max_price_per_mtok, overrides.get("max_price_per_mtok")),
            max_latency_ms=tighter(config.max_latency_ms, overrides.get("max_latency_ms")),
            max_ttft_ms=tighter(config.max_ttft_ms, overrides.get("max_ttft_ms")),
            min_quality=min_quality,
            allowed_models=allowed,
        )


def _compact(rejected: dict[str, str]) -> str:
    text = ";".join(f"{name}={reason}" for name, reason in rejected.items())
    if len(text) <= MAX_REJECTED_HEADER:
        return text
    cut = text.rfind(";", 0, MAX_REJECTED_HEADER)
    shown = text[:cut].count(";") + 1 if cut > 0 else 0
    return (text[:cut] if cut > 0 else "") + f";+{len(rejected) - shown} more"


_REASONS = {
    "not_allowed": "not available to this API key",
    "privacy": "excluded by the privacy policy",
    "tools": "does not support tools",
    "vision": "does not accept images",
    "json_schema": "does not support response_format json_schema",
    "context": "context window too small for this request",
    "price": "above the price ceiling",
    "quality": "below the minimum quality",
    "unhealthy": "currently unhealthy",
    "latency": "recent latency above the objective",
    "ttft": "recent time to first token above the objective",
    "unavailable": "not served by this gateway",
    "below_target": "predicted to fall short of the policy's quality target",
}


def _no_model_message(policy: Policy, rejected: dict[str, str]) -> str:
    if not rejected:
        return f"Auto-routing policy '{policy.public_name}' has no candidate models."
    reasons = "; ".join(f"{name}: {_REASONS.get(reason, reason)}" for name, reason in rejected.items())
    return f"No model can serve this request under auto-routing policy '{policy.public_name}': {reasons}."
