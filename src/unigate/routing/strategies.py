"""Load-balancing strategies: each orders a group's deployments, best first.

The first deployment carries the request; the rest are the in-group failover order. Every
strategy returns all deployments (health and pre-flight filtering happen in the router).

- ``weighted``        weighted random without replacement (``weight`` per deployment; default)
- ``round_robin``     rotate through the deployments, one step per request
- ``least_inflight``  fewest requests in flight from this replica first (random tie-break)
- ``lowest_latency``  lowest EWMA of time-to-first-token (streams) or total latency (non-streams);
                      unmeasured deployments first, so each gets measured
- ``lowest_cost``     cheapest catalog price (input + output per MTok) first; unknown prices last
- ``usage_based``     most RPM/TPM headroom this minute first
- ``ordered``         the configured order
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from unigate.routing.stats import Stats
from unigate.types import Deployment

STRATEGIES = ("weighted", "round_robin", "least_inflight", "lowest_latency", "lowest_cost", "usage_based", "ordered")


@dataclass(slots=True)
class StrategyContext:
    stats: Stats
    price: Callable[[Deployment], float | None]
    stream: bool = False
    counters: dict[str, itertools.count[int]] = field(default_factory=dict)


Strategy = Callable[[str, Sequence[Deployment], StrategyContext], list[Deployment]]


def weighted(group: str, deployments: Sequence[Deployment], ctx: StrategyContext) -> list[Deployment]:
    pool = [d for d in deployments if d.weight > 0]
    rest = [d for d in deployments if d.weight <= 0]
    if not pool:
        pool, rest = list(deployments), []
    ordered: list[Deployment] = []
    while pool:
        total = sum(d.weight or 1.0 for d in pool)
        pick = random.random() * total
        chosen = len(pool) - 1
        for index, candidate in enumerate(pool):
            pick -= candidate.weight or 1.0
            if pick <= 0:
                chosen = index
                break
        ordered.append(pool.pop(chosen))
    return ordered + rest


def round_robin(group: str, deployments: Sequence[Deployment], ctx: StrategyContext) -> list[Deployment]:
    counter = ctx.counters.get(group)
    if counter is None:
        counter = ctx.counters[group] = itertools.count()
    start = next(counter) % len(deployments)
    return [*deployments[start:], *deployments[:start]]


def _shuffled(deployments: Sequence[Deployment]) -> list[Deployment]:
    out = list(deployments)
    random.shuffle(out)
    return out


def least_inflight(group: str, deployments: Sequence[Deployment], ctx: StrategyContext) -> list[Deployment]:
    return sorted(_shuffled(deployments), key=lambda d: ctx.stats.of(d.id).inflight)


def lowest_latency(group: str, deployments: Sequence[Deployment], ctx: StrategyContext) -> list[Deployment]:
    def score(d: Deployment) -> float:
        stats = ctx.stats.of(d.id)
        value = stats.ttft_ms if ctx.stream else stats.total_ms
        if value is None:
            value = stats.total_ms if ctx.stream else stats.ttft_ms
        return -1.0 if value is None else value

    return sorted(_shuffled(deployments), key=score)


def lowest_cost(group: str, deployments: Sequence[Deployment], ctx: StrategyContext) -> list[Deployment]:
    def score(d: Deployment) -> float:
        price = ctx.price(d)
        return float("inf") if price is None else price

    return sorted(_shuffled(deployments), key=score)


def usage_based(group: str, deployments: Sequence[Deployment], ctx: StrategyContext) -> list[Deployment]:
    return sorted(_shuffled(deployments), key=lambda d: -ctx.stats.of(d.id).headroom(d.rpm, d.tpm))


def ordered(group: str, deployments: Sequence[Deployment], ctx: StrategyContext) -> list[Deployment]:
    return list(deployments)


BY_NAME: dict[str, Strategy] = {
    "weighted": weighted,
    "round_robin": round_robin,
    "least_inflight": least_inflight,
    "lowest_latency": lowest_latency,
    "lowest_cost": lowest_cost,
    "usage_based": usage_based,
    "ordered": ordered,
}


def order(strategy: str, group: str, deployments: Sequence[Deployment], ctx: StrategyContext) -> list[Deployment]:
    if len(deployments) == 1:
        return [deployments[0]]
    return BY_NAME.get(strategy, weighted)(group, deployments, ctx)
