"""Accounts as the admin API and the ``unigate keys`` / ``teams`` commands show and take them:
input validation (USD amounts, limits, models, dates) into column values, and rows into views
that never contain a secret. Shared by the HTTP surface (server/admin_api.py) and the CLI."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from unigate.accounts.models import PERIODS, iso, to_nano, to_usd
from unigate.errors import BadRequest

_LIMITS = ("rpm", "tpm", "max_concurrency")
KEY_FIELDS = {"name", "team_id", "owner", "tags", "models", "credit", "budget", "budget_period", *_LIMITS}
KEY_FIELDS |= {"expires_at", "enabled", "metadata"}
TEAM_FIELDS = {"name", "credit", "budget", "budget_period", "enabled", "metadata", *_LIMITS}


def parse_timestamp(value: Any, name: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)  # query strings carry unix times as text
        except ValueError:
            pass
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except ValueError:
            pass
    raise BadRequest(f"'{name}' must be a unix time or an ISO 8601 date", param=name)


def _money(value: Any, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise BadRequest(f"'{name}' must be a non-negative amount in USD", param=name)
    return to_nano(float(value))


def _positive(value: Any, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise BadRequest(f"'{name}' must be a positive integer", param=name)
    return value


def parse_account_fields(data: dict[str, Any], allowed: set[str]) -> dict[str, Any]:
    """Validate API/CLI input (USD amounts, limits, …) into database column values."""
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise BadRequest(f"Unknown field(s): {', '.join(unknown)}", param=unknown[0])
    values: dict[str, Any] = {}
    for name, value in data.items():
        if name in ("name", "owner", "team_id"):
            if value is not None and (not isinstance(value, str) or not value.strip()):
                raise BadRequest(f"'{name}' must be a non-empty string", param=name)
            values[name] = value
        elif name in ("tags", "models"):
            if value is not None and (not isinstance(value, list) or not all(isinstance(v, str) for v in value)):
                raise BadRequest(f"'{name}' must be a list of strings", param=name)
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
