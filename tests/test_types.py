"""Ids the gateway makes: request ids grow with time (the ledger appends to its primary key)."""

from __future__ import annotations

import re
import time

from unigate.types import new_request_id


def test_request_ids_keep_their_shape_and_order_by_time() -> None:
    first = new_request_id()
    time.sleep(0.002)  # the next millisecond
    later = [new_request_id() for _ in range(1000)]
    for request_id in (first, *later):
        assert re.fullmatch(r"req_[0-9a-f]{32}", request_id)
    assert all(first < other for other in later)
    assert len(set(later)) == len(later)  # 80 random bits within one millisecond


def test_request_ids_start_with_the_time_in_milliseconds() -> None:
    before = time.time_ns() // 1_000_000
    stamp = int(new_request_id()[4:16], 16)
    assert before <= stamp <= time.time_ns() // 1_000_000
