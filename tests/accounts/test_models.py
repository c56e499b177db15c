"""Reservation math, money units, budget periods and secrets."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from unigate.accounts.models import hash_secret, new_secret, period_bounds, reservation_nano, to_nano, to_usd
from unigate.accounts.reservation import estimate_prompt_bytes


def ts(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def test_reservation_is_the_worst_case_in_nano_usd_rounded_up():
    # 100 prompt tokens at $3/M + 50 output tokens at $15/M = $0.00105
    assert reservation_nano(100, 50, 3.0, 15.0) == 1_050_000
    assert reservation_nano(0, 5, 0.0, 2000.0) == to_nano(0.01) == 10_000_000
    assert reservation_nano(7, 0, 0.15, 0.0) == 1050  # float noise (1050.0000000000002) is not rounded up
    assert reservation_nano(1, 0, 0.0001, 0.0) == 1  # sub-nano amounts round up, never to zero
    assert to_usd(to_nano(12.345678901)) == pytest.approx(12.345678901)


@pytest.mark.parametrize(
    ("period", "now", "start", "end"),
    [
        ("day", "2024-02-29T13:00:00", "2024-02-29T00:00:00", "2024-03-01T00:00:00"),
        ("week", "2024-03-03T23:59:59", "2024-02-26T00:00:00", "2024-03-04T00:00:00"),  # a Sunday
        ("month", "2024-02-10T00:00:00", "2024-02-01T00:00:00", "2024-03-01T00:00:00"),
        ("month", "2024-12-31T23:00:00", "2024-12-01T00:00:00", "2025-01-01T00:00:00"),
    ],
)
def test_period_bounds_are_utc_calendar_periods(period, now, start, end):
    assert period_bounds(period, ts(now)) == (ts(start), ts(end))


def test_prompt_estimate_is_an_upper_bound_in_bytes():
    text = "héllo wörld"  # 11 characters, 13 bytes
    request = {"messages": [{"role": "user", "content": text}]}
    assert estimate_prompt_bytes(request) == 8 + 13
    parts = {
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "abc"}, {"type": "image_url", "image_url": {}}]}
        ],
        "tools": [{"type": "function", "function": {"name": "f"}}],
    }
    assert estimate_prompt_bytes(parts) > 8 + 3 + 2000
    assert estimate_prompt_bytes({"input": ["ab", "cde"]}) == 5


def test_secrets_are_random_and_hashed():
    a, b = new_secret(), new_secret()
    assert a != b and a.startswith("sk-ug-") and len(a) > 40
    assert hash_secret(a) == hash_secret(a) != hash_secret(b) and len(hash_secret(a)) == 64
