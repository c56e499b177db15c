"""Account records as plain immutable values, money units, budget periods and key secrets."""

from __future__ import annotations

import calendar
import hashlib
import math
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

NANO = 1_000_000_000  # nano-USD per USD
PERIODS = ("day", "week", "month")
SECRET_PREFIX = "sk-ug-"


def to_nano(usd: float) -> int:
    return round(usd * NANO)


def to_usd(nano: int | None) -> float | None:
    return None if nano is None else nano / NANO


def new_secret() -> str:
    """A 256-bit random secret; only its SHA-256 is stored (high entropy: no slow hash needed)."""
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_id(kind: str) -> str:
    return f"{kind}_{secrets.token_hex(8)}"


# The period each kind of budget is in now: every request of a key with a budget needs its
# bounds, which change once a day at most (computing them costs a few datetime objects).
_CURRENT: dict[str, tuple[float, float]] = {}


def period_bounds(period: str, now: float) -> tuple[float, float]:
    """[start, end) of the UTC day / ISO week (Monday) / calendar month containing ``now``."""
    current = _CURRENT.get(period)
    if current is not None and current[0] <= now < current[1]:
        return current
    bounds = _period_bounds(period, now)
    _CURRENT[period] = bounds
    return bounds


def _period_bounds(period: str, now: float) -> tuple[float, float]:
    moment = datetime.fromtimestamp(now, UTC)
    day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "day":
        start, end = day, day + timedelta(days=1)
    elif period == "week":
        start = day - timedelta(days=day.weekday())
        end = start + timedelta(days=7)
    elif period == "month":
        start = day.replace(day=1)
        days = calendar.monthrange(start.year, start.month)[1]
        end = start + timedelta(days=days)
    else:
        raise ValueError(f"unknown budget period {period!r} (one of: {', '.join(PERIODS)})")
    return start.timestamp(), end.timestamp()


def iso(ts: float | None) -> str | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class Limits:
    """Spend and rate limits of one account (a key or a team)."""

    kind: str  # key | team
    id: str
    name: str
    credit_nusd: int | None = None  # total credited; None = no credit limit
    budget_nusd: int | None = None
    budget_period: str | None = None
    rpm: int | None = None
    tpm: int | None = None
    max_concurrency: int | None = None

    @property
    def limits_spend(self) -> bool:
        return self.credit_nusd is not None or (self.budget_nusd is not None and self.budget_period is not None)

    @property
    def limits_anything(self) -> bool:
        return self.limits_spend or bool(self.rpm or self.tpm or self.max_concurrency)

    def credit_counter(self) -> str:
        return f"credit:{self.kind}:{self.id}"

    def budget_counter(self, now: float) -> tuple[str, float, float]:
        """(counter name, period start, period end) for the current budget period."""
        assert self.budget_period is not None
        start, end = period_bounds(self.budget_period, now)
        return f"budget:{self.kind}:{self.id}:{self.budget_period}:{int(start)}", start, end


LIMIT_FIELDS = ("credit_nusd", "budget_nusd", "budget_period", "rpm", "tpm", "max_concurrency")


def limits_from_row(kind: str, row: Any) -> Limits:
    return Limits(kind, row.id, row.name, *(getattr(row, name) for name in LIMIT_FIELDS))


@dataclass(frozen=True, slots=True)
class Account:
    """What the request path needs to know about a virtual key (cached per process)."""

    key: Limits
    team: Limits | None
    allowed_models: frozenset[str] | None
    expires_at: float | None
    user: Limits | None = None  # the self-service user who owns the key: their wallet and budget share

    @property
    def limits_anything(self) -> bool:
        return (
            self.key.limits_anything
            or (self.team is not None and self.team.limits_anything)
            or (self.user is not None and self.user.limits_anything)
        )

    @property
    def limits_spend(self) -> bool:
        return any(limits is not None and limits.limits_spend for limits in (self.key, self.team, self.user))


def reservation_nano(prompt_tokens: int, output_tokens: int, input_price: float, output_price: float) -> int:
    """Worst-case cost in nano-USD (prices per 1M tokens), rounded up."""
    return math.ceil(round((prompt_tokens * input_price + output_tokens * output_price) * 1000, 6))
