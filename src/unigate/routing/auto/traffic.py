"""Per-policy auto-routing statistics for the dashboard: share routed to each model, estimated
saving, and the quality observed from ``/v1/feedback`` — in memory, per gateway process (they
start at zero on restart; the ledger keeps the durable per-request record).

Feedback is matched to a routing decision by request id, for the last ``MAX_REMEMBERED``
auto-routed requests.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

MAX_REMEMBERED = 20000


@dataclass
class _ModelStats:
    requests: int = 0
    saving_usd: float = 0.0
    feedback: int = 0
    feedback_sum: float = 0.0


class AutoTraffic:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stats: dict[str, dict[str, _ModelStats]] = {}
        self._recent: OrderedDict[str, tuple[str, str]] = OrderedDict()  # request id → (policy, model)

    def record(self, request_id: str, policy: str, model: str, saving_usd: float | None) -> None:
        with self._lock:
            stats = self._stats.setdefault(policy, {}).setdefault(model, _ModelStats())
            stats.requests += 1
            stats.saving_usd += saving_usd or 0.0
            self._recent[request_id] = (policy, model)
            while len(self._recent) > MAX_REMEMBERED:
                self._recent.popitem(last=False)

    def feedback(self, request_id: str, score: float) -> bool:
        """Count a feedback score for the routed request; False when the request is not remembered."""
        with self._lock:
            routed = self._recent.get(request_id)
            if routed is None:
                return False
            stats = self._stats[routed[0]][routed[1]]
            stats.feedback += 1
            stats.feedback_sum += score
            return True

    def snapshot(self) -> list[dict[str, Any]]:
        with self._lock:
            out = []
            for policy, models in sorted(self._stats.items()):
                total = sum(s.requests for s in models.values())
                rated = sum(s.feedback for s in models.values())
                out.append(
                    {
                        "policy": policy,
                        "requests": total,
                        "estimated_saving_usd": round(sum(s.saving_usd for s in models.values()), 6),
                        "feedback": rated,
                        "feedback_mean": round(sum(s.feedback_sum for s in models.values()) / rated, 4)
                        if rated
                        else None,
                        "models": [
                            {
                                "model": name,
                                "requests": s.requests,
                                "share": round(s.requests / total, 4) if total else 0.0,
                                "estimated_saving_usd": round(s.saving_usd, 6),
                                "feedback": s.feedback,
                                "feedback_mean": round(s.feedback_sum / s.feedback, 4) if s.feedback else None,
                            }
                            for name, s in sorted(models.items(), key=lambda kv: -kv[1].requests)
                        ],
                    }
                )
            return out
