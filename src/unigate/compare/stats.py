"""Per-model summaries, the Pareto front of quality against cost, and the terminal table."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from unigate.compare.runner import RunResult


def quantile(values: list[float], q: float) -> float | None:
    """Linear-interpolated quantile (numpy's default)."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@dataclass(slots=True)
class ModelSummary:
    model: str
    requests: int
    errors: int
    ttft_p50: float | None
    ttft_p95: float | None
    latency_p50: float | None
    latency_p95: float | None
    tokens_per_second: float | None
    cost_total: float
    cost_per_request: float | None
    quality: float | None
    scored: int
    pareto: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}


def summarize(result: RunResult) -> list[ModelSummary]:
    rows = []
    for model in result.models:
        calls = list(result.calls[model].values())
        ok = [c for c in calls if c.error is None]
        ttfts = [c.ttft_ms for c in ok if c.ttft_ms is not None]
        latencies = [c.latency_ms for c in ok]
        speeds = [s for c in ok if (s := c.tokens_per_second) is not None]
        costs = [c.cost for c in calls if c.cost is not None]
        scores = [c.score for c in calls if c.score is not None] + [0.0 for c in calls if c.error is not None]
        rows.append(
            ModelSummary(
                model=model,
                requests=len(calls),
                errors=len(calls) - len(ok),
                ttft_p50=quantile(ttfts, 0.5),
                ttft_p95=quantile(ttfts, 0.95),
                latency_p50=quantile(latencies, 0.5),
                latency_p95=quantile(latencies, 0.95),
                tokens_per_second=quantile(speeds, 0.5),
                cost_total=sum(costs),
                cost_per_request=sum(costs) / len(costs) if costs else None,
                quality=sum(scores) / len(scores) if scores else None,
                scored=len(scores),
            )
        )
    mark_pareto(rows)
    return rows


def mark_pareto(rows: list[ModelSummary]) -> None:
    """A model is on the front if no other model is at least as good on quality and cost and
    strictly better on one of them. Models without a quality score are never on it."""
    scored = [r for r in rows if r.quality is not None]
    for row in scored:
        cost = row.cost_per_request or 0.0
        row.pareto = not any(
            other is not row
            and (other.quality or 0.0) >= (row.quality or 0.0)
            and (other.cost_per_request or 0.0) <= cost
            and ((other.quality or 0.0) > (row.quality or 0.0) or (other.cost_per_request or 0.0) < cost)
            for other in scored
        )


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def _usd(value: float | None) -> str:
    if value is None:
        return "-"
    return f"${value:.6f}" if value < 0.01 else f"${value:.4f}"


def table(rows: list[ModelSummary], result: RunResult) -> str:
    header = (
        f"{'model':32} {'ok/n':>7} {'ttft p50':>9} {'p95':>7} {'lat p50':>9} {'p95':>7} "
        f"{'tok/s':>7} {'$/req':>11} {'$ set':>11} {'quality':>8}"
    )
    lines = [header, "-" * len(header)]
    for r in rows:
        quality = "-" if r.quality is None else f"{r.quality:.2f}" + ("*" if r.pareto else " ")
        speed = "-" if r.tokens_per_second is None else f"{r.tokens_per_second:.1f}"
        lines.append(
            f"{r.model[:32]:32} {r.requests - r.errors:>3}/{r.requests:<3} {_ms(r.ttft_p50):>9} {_ms(r.ttft_p95):>7} "
            f"{_ms(r.latency_p50):>9} {_ms(r.latency_p95):>7} {speed:>7} {_usd(r.cost_per_request):>11} "
            f"{_usd(r.cost_total):>11} {quality:>8}"
        )
    lines.append("times in ms; quality 0–1 (* on the quality/cost Pareto front)")
    if result.judge:
        lines.append(
            f"judge {result.judge} ({result.judge_mode}): {len(result.judge_calls)} calls, {_usd(result.judge_cost)}"
        )
    return "\n".join(lines)
