"""An in-memory rolling time series of requests for the dashboard (this process only).

Requests are aggregated into fixed buckets; latencies go into sparse log-scale histograms so
percentiles over any range can be merged. Recording is a few dict operations; queries merge.

Two tiers keep the memory bounded whatever the number of keys:

- **fine**: 10 s buckets for the last hour, per (model, deployment, provider) — the admin's view
  of the last 5 min … 1 h;
- **coarse**: 5 min buckets for 24 h, per (model, deployment, provider, key) — longer ranges,
  and every view limited to one key.

A key that sends requests costs one aggregate per 5 minutes it is active (about 1 KB), not one
per 10 s: with 10 s buckets per key, 500 busy keys grew the process by ~4 MB a minute.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

RANGES = {"5m": 300, "15m": 900, "1h": 3600, "6h": 6 * 3600, "24h": 24 * 3600}
# histogram bins: 10 % wide from 1 ms up (bin i covers [1.1^i, 1.1^(i+1)) ms)
_LOG_BASE = math.log(1.1)


def _bin(ms: float) -> int:
    return 0 if ms < 1.0 else int(math.log(ms) / _LOG_BASE) + 1


def _bin_value(index: int) -> float:
    return 0.5 if index == 0 else 1.1 ** (index - 0.5)


@dataclass(slots=True)
class Agg:
    requests: int = 0
    errors: int = 0
    cost: float = 0.0
    input_tokens: int = 0
    output_tokens: int = 0
    latency: dict[int, int] = field(default_factory=dict)
    ttft: dict[int, int] = field(default_factory=dict)

    def merge(self, other: Agg) -> None:
        self.requests += other.requests
        self.errors += other.errors
        self.cost += other.cost
        self.input_tokens += other.input_tokens
        self.output_tokens += other.output_tokens
        for mine, theirs in ((self.latency, other.latency), (self.ttft, other.ttft)):
            for index, count in theirs.items():
                mine[index] = mine.get(index, 0) + count

    def summary(self, seconds: float) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "rps": round(self.requests / seconds, 4) if seconds else 0.0,
            "errors": self.errors,
            "error_rate": round(self.errors / self.requests, 4) if self.requests else 0.0,
            "p50_ms": percentile(self.latency, 0.5),
            "p95_ms": percentile(self.latency, 0.95),
            "ttft_p50_ms": percentile(self.ttft, 0.5),
            "ttft_p95_ms": percentile(self.ttft, 0.95),
            "cost": round(self.cost, 10),
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
        }


def percentile(hist: dict[int, int], q: float) -> float | None:
    total = sum(hist.values())
    if not total:
        return None
    rank = q * total
    seen = 0
    for index in sorted(hist):
        seen += hist[index]
        if seen >= rank:
            return round(_bin_value(index), 2)
    return None


SeriesKey = tuple[str, str, str, str | None]  # model, deployment, provider, key id
Buckets = deque[tuple[int, dict[Any, Agg]]]

FINE_SECONDS = 10
FINE_RETENTION = 3600
COARSE_SECONDS = 300
BUCKET_SECONDS = FINE_SECONDS  # the finest step a chart gets
RETENTION_SECONDS = 24 * 3600


def _add(buckets: Buckets, slot: int, keep: int, key: Any) -> Agg:
    """The aggregate of ``key`` in bucket ``slot`` (made, and buckets older than ``keep`` slots
    dropped, as time moves on)."""
    if not buckets or buckets[-1][0] != slot:
        buckets.append((slot, {}))
        while buckets[0][0] <= slot - keep:
            buckets.popleft()
    series = buckets[-1][1]
    agg = series.get(key)
    if agg is None:
        agg = series[key] = Agg()
    return agg


class TimeSeries:
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._fine: Buckets = deque()  # (slot, {(model, deployment, provider): Agg})
        self._coarse: Buckets = deque()  # (slot, {(model, deployment, provider, key): Agg})
        self.started = clock()

    def record(
        self,
        key: SeriesKey,
        *,
        error: bool,
        cost: float | None,
        input_tokens: int,
        output_tokens: int,
        latency_ms: float | None,
        ttft_ms: float | None,
    ) -> None:
        now = int(self._clock())
        fine = _add(self._fine, now // FINE_SECONDS, FINE_RETENTION // FINE_SECONDS, key[:3])
        coarse = _add(self._coarse, now // COARSE_SECONDS, RETENTION_SECONDS // COARSE_SECONDS, key)
        latency = _bin(latency_ms) if latency_ms is not None else None
        ttft = _bin(ttft_ms) if ttft_ms is not None else None
        for agg in (fine, coarse):
            agg.requests += 1
            if error:
                agg.errors += 1
            if cost:
                agg.cost += cost
            agg.input_tokens += input_tokens
            agg.output_tokens += output_tokens
            if latency is not None:
                agg.latency[latency] = agg.latency.get(latency, 0) + 1
            if ttft is not None:
                agg.ttft[ttft] = agg.ttft.get(ttft, 0) + 1

    def held(self) -> int:
        """How many aggregates the series holds (what its memory grows with)."""
        return sum(len(series) for buckets in (self._fine, self._coarse) for _slot, series in buckets)

    # -- queries -----------------------------------------------------------------------------

    def _tier(self, seconds: int, key_id: str | None) -> tuple[Buckets, int]:
        if key_id is None and seconds <= FINE_RETENTION:
            return self._fine, FINE_SECONDS
        return self._coarse, COARSE_SECONDS

    def _select(
        self, seconds: int, key_id: str | None, tier: tuple[Buckets, int] | None = None
    ) -> Iterable[tuple[int, tuple[str, ...], Agg]]:
        """(bucket start time, series key, aggregate) for the buckets that overlap the last ``seconds``."""
        buckets, width = tier or self._tier(seconds, key_id)
        first = (int(self._clock()) - seconds) // width + 1
        for slot, series in list(buckets):
            if slot < first:
                continue
            for key, agg in list(series.items()):
                if key_id is not None and key[3] != key_id:
                    continue
                yield slot * width, key, agg

    def overview(self, range_name: str, key_id: str | None = None, points: int = 60) -> dict[str, Any]:
        """Totals and a chart series (``points`` points) over the range; ``key_id`` restricts to one key."""
        seconds = RANGES.get(range_name, 3600)
        now = self._clock()
        width = self._tier(seconds, key_id)[1]
        step = max(width, seconds // points)
        step -= step % width
        start = (int(now) - seconds) // step * step + step
        n = (int(now) - start) // step + 1
        series = [Agg() for _ in range(n)]
        total = Agg()
        for begins, _key, agg in self._select(seconds, key_id):
            index = (begins - start) // step
            if 0 <= index < n:
                series[index].merge(agg)
            total.merge(agg)
        return {
            "range": range_name if range_name in RANGES else "1h",
            "seconds": seconds,
            "step": step,
            "since_process_start": round(now - self.started, 1),
            "totals": total.summary(min(seconds, max(1.0, now - self.started))),
            "points": [{"t": start + i * step, **agg.summary(step)} for i, agg in enumerate(series)],
        }

    def by_deployment(self, range_name: str, key_id: str | None = None) -> list[dict[str, Any]]:
        seconds = RANGES.get(range_name, 3600)
        groups: dict[tuple[str, ...], Agg] = {}
        for _begins, key, agg in self._select(seconds, key_id):
            target = groups.get(key[:3])
            if target is None:
                target = groups[key[:3]] = Agg()
            target.merge(agg)
        total = sum(a.requests for a in groups.values()) or 1
        return [
            {
                "model": model,
                "deployment": deployment,
                "provider": provider,
                "share": round(agg.requests / total, 4),
                **agg.summary(seconds),
            }
            for (model, deployment, provider), agg in sorted(groups.items())
        ]

    def spend_since(self, since: float, key_id: str | None = None) -> float:
        """Cost recorded since ``since`` (to the 5 minutes: midnight is on a bucket edge)."""
        coarse = (self._coarse, COARSE_SECONDS)
        return round(
            sum(agg.cost for begins, _key, agg in self._select(RETENTION_SECONDS, key_id, coarse) if begins >= since),
            10,
        )
