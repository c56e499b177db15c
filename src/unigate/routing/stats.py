"""Live per-deployment statistics the strategies read: in-flight requests, latency EWMAs and
the current minute's requests/tokens (for RPM/TPM headroom).

Kept in-process: each replica balances on what it sees itself, which is what least-in-flight
and lowest-latency want anyway; usage-based headroom is per replica (documented).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

ALPHA = 0.2  # EWMA weight of the newest sample


@dataclass(slots=True)
class DeploymentStats:
    inflight: int = 0
    ttft_ms: float | None = None
    total_ms: float | None = None
    samples: int = 0
    window_start: float = 0.0
    window_requests: int = 0
    window_tokens: int = 0

    def _roll(self, now: float) -> None:
        if now - self.window_start >= 60.0:
            self.window_start = now
            self.window_requests = 0
            self.window_tokens = 0

    def started(self, tokens: int = 0) -> None:
        self.inflight += 1
        self._roll(time.monotonic())
        self.window_requests += 1
        self.window_tokens += tokens

    def finished(self) -> None:
        self.inflight = max(0, self.inflight - 1)

    def add_tokens(self, tokens: int) -> None:
        self._roll(time.monotonic())
        self.window_tokens += tokens

    def observe(self, ttft_ms: float | None, total_ms: float | None) -> None:
        self.samples += 1
        if ttft_ms is not None:
            self.ttft_ms = ttft_ms if self.ttft_ms is None else self.ttft_ms + ALPHA * (ttft_ms - self.ttft_ms)
        if total_ms is not None:
            self.total_ms = total_ms if self.total_ms is None else self.total_ms + ALPHA * (total_ms - self.total_ms)

    def headroom(self, rpm: int | None, tpm: int | None) -> float:
        """Fraction of the tighter of the RPM/TPM limits still free this minute (1.0 without limits)."""
        self._roll(time.monotonic())
        free = 1.0
        if rpm:
            free = min(free, 1.0 - self.window_requests / rpm)
        if tpm:
            free = min(free, 1.0 - self.window_tokens / tpm)
        return free


class Stats:
    def __init__(self) -> None:
        self._by_id: dict[str, DeploymentStats] = {}

    def of(self, deployment_id: str) -> DeploymentStats:
        stats = self._by_id.get(deployment_id)
        if stats is None:
            stats = self._by_id[deployment_id] = DeploymentStats()
        return stats

    def snapshot(self) -> dict[str, DeploymentStats]:
        return dict(self._by_id)
