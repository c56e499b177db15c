"""The learned router, seen from the gateway: ``score(prompt) -> float | None``.

Routers load lazily (``unigate.routing.learned.model.load_router``); a router that cannot be
loaded is reported once in the log and auto routing falls back to the strong tier (a missing
router never makes answers worse, only more expensive).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Protocol

log = logging.getLogger("unigate.auto")

LOG_EVERY_S = 60.0


class Scorer(Protocol):
    def score(self, prompt: str) -> float: ...


Prediction = tuple[float, dict[str, float]]  # (score, predicted success per profile)


class Scorers:
    def __init__(self, loader: Any = None) -> None:
        self._loader = loader
        self._routers: dict[str, Scorer | None] = {}
        self._lock = threading.Lock()
        self._failures: dict[str, int] = {}
        self._last_log: dict[str, float] = {}

    def get(self, name: str) -> Scorer | None:
        try:
            return self._routers[name]
        except KeyError:
            pass
        with self._lock:
            if name not in self._routers:
                self._routers[name] = self._load(name)
        return self._routers[name]

    def _load(self, name: str) -> Scorer | None:
        try:
            loader = self._loader
            if loader is None:
                from unigate.routing.learned.model import load_router as loader
            router: Scorer = loader(name)
            return router
        except Exception as exc:
            log.warning("auto routing: learned router %r is unavailable (%s); using the strong tier", name, exc)
            return None

    def score(self, name: str, prompt: str) -> float | None:
        router = self.get(name)
        if router is None:
            return None
        try:
            value = float(router.score(prompt))
        except Exception as exc:
            self._report(name, exc)
            return None
        return min(1.0, max(0.0, value))

    def explain(self, name: str, prompt: str, profiles: list[str]) -> Prediction | None:
        """Score plus predicted success per profile (routers with ``explain``), else None."""
        router = self.get(name)
        explain = getattr(router, "explain", None)
        if explain is None:
            return None
        try:
            value, success = explain(prompt, profiles)
        except Exception as exc:
            self._report(name, exc)
            return None
        return min(1.0, max(0.0, float(value))), {str(k): float(v) for k, v in success.items()}

    def profiles(self, name: str) -> tuple[str, ...]:
        """The model profiles the router predicts (empty for a score-only router)."""
        return tuple(getattr(self.get(name), "profiles", ()) or ())

    def _report(self, name: str, exc: Exception) -> None:
        """Log a scoring failure at most once per ``LOG_EVERY_S`` per router (no log floods)."""
        now = time.monotonic()
        self._failures[name] = self._failures.get(name, 0) + 1
        if now - self._last_log.get(name, -LOG_EVERY_S) >= LOG_EVERY_S:
            self._last_log[name] = now
            log.warning(
                "auto routing: router %r failed to score a prompt (%d failures so far; using the strong tier): %s",
                name,
                self._failures[name],
                exc,
            )

    def warm(self, name: str) -> None:
        """Load the router and run one prompt through it, off the request path."""
        self.score(name, "Warm-up: what is 2 + 2?")
