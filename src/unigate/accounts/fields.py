"""Checks of the fields a portal request sends: each returns the clean value or raises a 400
that names the field."""

from __future__ import annotations

import math
import re
from typing import Any

from unigate.accounts.models import PERIODS, to_nano
from unigate.accounts.users import normalize_email
from unigate.errors import BadRequest

EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}\.[^@\s]{2,63}$")


def text_field(data: dict[str, Any], name: str, *, required: bool = True, limit: int = 200) -> str | None:
    value = data.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise BadRequest(f"'{name}' must be a non-empty string of at most {limit} characters", param=name)
    return value.strip()


def email_field(data: dict[str, Any]) -> str:
    email = normalize_email(text_field(data, "email", limit=320) or "")
    if not EMAIL.match(email):
        raise BadRequest("'email' is not an email address", param="email")
    return email


def money_field(value: Any, name: str, *, positive: bool = False) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        raise BadRequest(f"'{name}' must be a non-negative amount in USD", param=name)
    if positive and value <= 0:
        raise BadRequest(f"'{name}' must be more than 0", param=name)
    if value > 1e9:
        raise BadRequest(f"'{name}' is too large", param=name)
    return to_nano(float(value))


def positive_int_field(value: Any, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 2**31:
        raise BadRequest(f"'{name}' must be a positive integer", param=name)
    return value


def period_field(value: Any) -> str | None:
    if value is not None and value not in PERIODS:
        raise BadRequest(f"'budget_period' must be one of {', '.join(PERIODS)}", param="budget_period")
    return value


def reject_unknown(data: dict[str, Any], allowed: set[str]) -> None:
    extra = sorted(set(data) - allowed)
    if extra:
        raise BadRequest(f"Unknown field(s): {', '.join(extra)}", param=extra[0])
