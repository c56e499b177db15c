"""What routing did for one request: every attempt, every skipped deployment, who answered.

Read by the response headers (``x-unigate-*``) and the request log.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from unigate.types import Deployment


@dataclass(slots=True)
class Attempt:
    deployment: str
    error: str | None = None
    status: int | None = None
    latency_ms: float = 0.0
    model: str | None = None  # the public model (group) the deployment belongs to
    phase: str = "start"  # start | mid_stream (failed after content was sent) | continuation


@dataclass(slots=True)
class RouteTrace:
    """``deployment`` answered; ``attempts`` are the upstream calls in order; ``skipped`` the
    deployments passed over without a call (``cooldown``, ``context_window``, ``tools``, …)."""

    deployment: Deployment | None = None
    attempts: list[Attempt] = field(default_factory=list)
    ttft_ms: float | None = None
    skipped: list[tuple[str, str]] = field(default_factory=list)
    continuations: int = 0
    requested: str | None = None  # the model asked for (after auto routing)

    def header(self) -> str:
        """``x-unigate-attempts``: ``count`` then ``deployment=ErrorClass`` for abandoned attempts."""
        failed = [f"{a.deployment}={a.error}" for a in self.attempts if a.error]
        return ";".join([str(len(self.attempts)), *failed])

    def extra_headers(self) -> list[tuple[bytes, bytes]]:
        """``x-unigate-skipped`` (deployment=reason, …) and ``x-unigate-fallback`` (the model
        that answered, when it is not the one asked for) — only when there is something to say."""
        out: list[tuple[bytes, bytes]] = []
        if self.skipped:
            out.append((b"x-unigate-skipped", ",".join(f"{d}={r}" for d, r in self.skipped).encode()))
        if self.deployment is not None and self.requested not in (None, self.deployment.public_name):
            out.append((b"x-unigate-fallback", self.deployment.public_name.encode()))
        return out
