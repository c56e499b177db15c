"""Accounts as the admin API and the ``unigate keys`` / ``teams`` commands show and take them:
input validation (USD amounts, limits, models, dates) into column values, and rows into views
that never contain a secret. Shared by the HTTP surface (server/admin_api.py) and the CLI."""

from __future__ import annotations

import contextlib
from datetime import datetime
from typing import Any

from unigate.accounts.models import PERIODS, iso, to_nano, to_usd
from unigate.errors import BadRequest

_LIMITS = ("rpm", "tpm", "max_concurrency")
KEY_FIELDS = {"name", "team_id", "owner", "tags", "models", "credit", "budget", "budget_period", *_LIMITS}
KEY_FIELDS |= {"expires_at", "enabled", "metadata"}
TEAM_FIELDS = {"name", "credit", "budget", "budget_period", "enabled", "metadata", *_LIMITS}
# Bounds that keep every stored value inside its column (BigInteger nano-USD, Integer limits,
# String(200) names) and every stored time printable: refused with a 400 rather than stored
# and failing later, on every listing.
MAX_USD = 1_000_000_000  # 1e18 nano-USD, well inside a 64-bit column even after top-ups
MAX_LIMIT = 1_000_000_000
MAX_NAME = 200
MAX_TIMESTAMP = 253_402_300_799  # 9999-12-31T23:59:59Z


def parse_timestamp(value: Any, name: str) -> float | None:
    if value is None:
        return None
    seconds: float | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str):
        try:
            seconds = float(value)  # query strings carry unix times as text
        except ValueError:
            with contextlib.suppress(ValueError, OverflowError, OSError):
                seconds = datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    if seconds is None or seconds != seconds:  # NaN
        raise BadRequest(f"'{name}' must be a unix time or an ISO 8601 date", param=name)
    if not 0 <= seconds <= MAX_TIMESTAMP:
        hint = " (it looks like milliseconds: send seconds)" if MAX_TIMESTAMP < seconds < MAX_TIMESTAMP * 1000 else ""
        raise BadRequest(f"'{name}' must be a unix time in seconds between 1970 and 9999{hint}", param=name)
    return seconds


def _money(value: Any, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= MAX_USD:
        raise BadRequest(f"'{name}' must be an amount in USD from 0 to {MAX_USD:,}", param=name)
    return to_nano(float(value))


def _positive(value: Any, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_LIMIT:
        raise BadRequest(f"'{name}' must be a positive integer (at most {MAX_LIMIT:,})", param=name)
    return value


def topup_amount(body: dict[str, Any], row: Any) -> int:
    """A positive top-up in USD that keeps the total credit within :data:`MAX_USD`."""
    amount = body.get("amount")
    if isinstance(amount, bool) or not isinstance(amount, int | float) or not 0 < amount <= MAX_USD:
        raise BadRequest(f"'amount' must be a positive amount in USD (at most {MAX_USD:,})", param="amount")
    nano = to_nano(float(amount))
    if (row.credit_nusd or 0) + nano > to_nano(MAX_USD):
        raise BadRequest(f"'amount' would take the credit above {MAX_USD:,} USD", param="amount")
    return nano


def parse_account_fields(data: dict[str, Any], allowed: set[str]) -> dict[str, Any]:
    """Validate API/CLI input (USD amounts, limits, …) into database column values."""
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise BadRequest(f"Unknown field(s): {', '.join(unknown)}", param=unknown[0])
    values: dict[str, Any] = {}
    for name, value in data.items():
        if name in ("name", "owner", "team_id"):
            longest = 40 if name == "team_id" else MAX_NAME
            if value is not None and (not isinstance(value, str) or not value.strip() or len(value) > longest):
                raise BadRequest(f"'{name}' must be a non-empty string of at most {longest} characters", param=name)
            values[name] = value
        elif name in ("tags", "models"):
            if value is not None and (
                not isinstance(value, list) or not all(isinstance(v, str) and len(v) <= MAX_NAME for v in value)
            ):
                raise BadRequest(f"'{name}' must be a list of strings (each at most {MAX_NAME})", param=name)
            values["allowed_models" if name == "models" else name] = value
        elif name == "credit":
            values["credit_nusd"] = _money(value, name)
        elif name == "budget":
            values["budget_nusd"] = _money(value, name)
        elif name == "budget_period":
            if value is not None and value not in PERIODS:
                raise BadRequest(f"'budget_period' must be one of {', '.join(PERIODS)}", param=name)
            values[name] = value
        elif name in _LIMITS:
            values[name] = _positive(value, name)
        elif name == "expires_at":
            values[name] = parse_timestamp(value, name)
        elif name == "enabled":
            if not isinstance(value, bool):
                raise BadRequest("'enabled' must be true or false", param=name)
            values[name] = value
        elif name == "metadata":
            if value is not None and not isinstance(value, dict):
                raise BadRequest("'metadata' must be an object", param=name)
            values[name] = value
    return values


def _limits_view(row: Any) -> dict[str, Any]:
    return {
        "credit": to_usd(row.credit_nusd),
        "spent": to_usd(row.spent_nusd),
        "budget": to_usd(row.budget_nusd),
        "budget_period": row.budget_period,
        "rpm": row.rpm,
        "tpm": row.tpm,
        "max_concurrency": row.max_concurrency,
    }


def key_view(row: Any) -> dict[str, Any]:
    """A key as the API shows it: never the secret or its hash."""
    return {
        "id": row.id,
        "object": "key",
        "name": row.name,
        "key_prefix": row.prefix + "…",
        "team_id": row.team_id,
        "owner": row.owner,
        "tags": row.tags or [],
        "models": row.allowed_models,
        **_limits_view(row),
        "expires_at": iso(row.expires_at),
        "enabled": row.enabled,
        "revoked": row.revoked_at is not None,
        "revoked_at": iso(row.revoked_at),
        "metadata": row.metadata or {},
        "created_at": iso(row.created_at),
    }


def team_view(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "object": "team",
        "name": row.name,
        **_limits_view(row),
        "enabled": row.enabled,
        "metadata": row.metadata or {},
        "created_at": iso(row.created_at),
    }
