"""The auto-routing RequestHook: live statistics, the estimated saving, and prompt records.

It is the last hook given to the Gateway, so its ``after`` runs first (hooks' ``after`` run in
reverse order) and the ledger, log and metrics hooks see ``ctx.extras["auto"]["estimated_saving_usd"]`` filled in:
the cost of the same usage on the policy's strongest eligible candidate minus the actual cost.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from unigate.routing.auto.candidates import Candidate
from unigate.routing.auto.owners import RecentOwners
from unigate.routing.auto.stats import LiveStats
from unigate.routing.auto.traffic import AutoTraffic

if TYPE_CHECKING:
    from unigate.catalog import Catalog
    from unigate.context import RequestContext
    from unigate.routing.auto.feedback import PromptStore
    from unigate.routing.auto.selector import AutoRouter

log = logging.getLogger("unigate.auto")

# Recent request ids → the key that made them (None: master / anonymous), so feedback is taken
# only from the request's own key. Bounded: older ids are looked up in the ledger instead.
MAX_OWNERS = 50_000


class AutoHook:
    def __init__(
        self,
        catalog: Catalog,
        router: AutoRouter,
        live: LiveStats,
        candidates: dict[str, Candidate],
        prompts: PromptStore | None = None,
        traffic: AutoTraffic | None = None,
    ) -> None:
        self.catalog = catalog
        self.router = router
        self.live = live
        self.candidates = candidates
        self.prompts = prompts
        self.traffic = traffic if traffic is not None else AutoTraffic()
        self.owners = RecentOwners(MAX_OWNERS)

    async def before(self, ctx: RequestContext, request: dict[str, Any]) -> None:
        return None

    async def after(self, ctx: RequestContext) -> None:
        self.owners.add(ctx.request_id, ctx.principal.key_id)
        try:
            self.live.record(ctx)
            auto = ctx.extras.get("auto")
            if auto is not None:
                self._account(ctx, auto)
        except Exception:  # a hook must not raise
            log.exception("auto routing: accounting failed for %s", ctx.request_id)

    def _account(self, ctx: RequestContext, auto: dict[str, Any]) -> None:
        strongest = self.candidates.get(auto.get("strongest") or "")
        if ctx.usage and ctx.cost is not None and strongest is not None:
            strong_cost = self.catalog.cost(strongest.provider, strongest.model, ctx.usage, strongest.name)
            if strong_cost is not None:
                auto["estimated_saving_usd"] = round(strong_cost - ctx.cost, 10)
        if ctx.status == "ok":
            self.traffic.record(ctx.request_id, auto["policy"], auto["chosen"], auto.get("estimated_saving_usd"))
        prompt = self.router.pending_prompts.pop(ctx.request_id, None)
        if self.prompts is not None and prompt is not None and ctx.status == "ok":
            self.prompts.add(
                {
                    "request_id": ctx.request_id,
                    "time": time.time(),
                    "policy": auto["policy"],
                    "chosen": auto["chosen"],
                    "tier": auto["tier"],
                    "strong": auto["strong"],
                    "score": auto["score"],
                    "prompt": prompt,
                }
            )
