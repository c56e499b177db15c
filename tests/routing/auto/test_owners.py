"""The ring of recent requests' owners: the last ``limit`` requests are found with their key,
older ones and unknown ids are not, and its memory does not grow with traffic."""

from __future__ import annotations

import tracemalloc

from unigate.routing.auto.owners import RecentOwners
from unigate.types import new_request_id


def test_the_last_requests_are_found_with_their_key_and_older_ones_are_forgotten() -> None:
    owners = RecentOwners(100)
    ids = [new_request_id() for _ in range(250)]
    for n, request_id in enumerate(ids):
        owners.add(request_id, None if n % 7 == 0 else f"key_{n % 5}")
    assert len(owners) == 100
    for n, request_id in enumerate(ids[150:], start=150):
        assert owners.find(request_id) == (True, None if n % 7 == 0 else f"key_{n % 5}")
    assert all(owners.find(request_id) == (False, None) for request_id in ids[:150])
    assert owners.find("req_unknown") == (False, None)
    assert owners.find("") == (False, None)


def test_an_empty_ring_and_any_string_as_an_id() -> None:
    owners = RecentOwners(3)
    assert owners.find(new_request_id()) == (False, None)
    owners.add("not a standard id ✓", "key_a")
    assert owners.find("not a standard id ✓") == (True, "key_a")
    assert owners.find("not a standard id") == (False, None)


def test_memory_is_allocated_once_not_per_request() -> None:
    owners = RecentOwners(1000)
    ids = [new_request_id() for _ in range(5000)]
    key = "key_shared"
    for request_id in ids[:1000]:
        owners.add(request_id, key)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for request_id in ids[1000:]:
            owners.add(request_id, key)
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert grown < 4096, f"{grown} bytes for 4,000 more requests"
    assert owners.find(ids[-1]) == (True, key) and owners.find(ids[3999]) == (False, None)
