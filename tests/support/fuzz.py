"""Property-based fuzzing of request bodies: hypothesis strategies that mutate a valid body, and
the check every response must pass (no 5xx; errors in the surface's own shape).

The example count per surface is ``UNIGATE_FUZZ_EXAMPLES`` (default 150, a bounded CI run);
``UNIGATE_FUZZ_TALLY_ONLY=1`` counts 5xx instead of stopping at the first.
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from tests.support.gateway_process import GatewayProcess

EXAMPLES = int(os.environ.get("UNIGATE_FUZZ_EXAMPLES", "150"))
# Count 5xx instead of stopping at the first (to measure a build, e.g. before a fix): set to 1.
TALLY_ONLY = os.environ.get("UNIGATE_FUZZ_TALLY_ONLY") == "1"
MASTER = "sk-fuzz-master"

FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,  # CI sees the same cases every run; raise UNIGATE_FUZZ_EXAMPLES to explore
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)

# -- what the cases are made of ----------------------------------------------------------------

SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from([0, -1, 1e300, -1e300, 1.5, 2**63, "", "user", "auto", "function", "text", "base64"])
    | st.text(max_size=12)
)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=10,
)

# -- mutation ----------------------------------------------------------------------------------


def _containers(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], Any]]:
    if isinstance(value, dict | list):
        yield path, value
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for key, child in items:
            yield from _containers(child, (*path, key))


@st.composite
def mutated(draw: st.DrawFn, template: dict[str, Any], fields: list[str]) -> Any:
    body = copy.deepcopy(template)
    for _ in range(draw(st.integers(1, 3))):
        containers = list(_containers(body))
        _, target = draw(st.sampled_from(containers))
        action = draw(st.sampled_from(["replace", "replace", "delete", "add", "add_list"]))
        if isinstance(target, dict):
            if action == "delete" and target:
                del target[draw(st.sampled_from(sorted(target)))]
            elif action in ("add", "add_list") or not target:
                target[draw(st.sampled_from(fields) | st.text(max_size=6))] = draw(JSON)
            else:
                target[draw(st.sampled_from(sorted(target)))] = draw(JSON)
        elif isinstance(target, list):
            if action == "delete" and target:
                target.pop(draw(st.integers(0, len(target) - 1)))
            elif action in ("add", "add_list") or not target:
                target.append(draw(JSON))
            else:
                target[draw(st.integers(0, len(target) - 1))] = draw(JSON)
    return body


def nested(depth: int, kind: str) -> Any:
    value: Any = "x"
    for _ in range(depth):
        value = [value] if kind == "list" else {"a": value}
    return value


@st.composite
def deep(draw: st.DrawFn, template: dict[str, Any]) -> dict[str, Any]:
    body = copy.deepcopy(template)
    key = draw(st.sampled_from(sorted(body)))
    body[key] = nested(draw(st.integers(50, 1500)), draw(st.sampled_from(["list", "dict"])))
    return body


def cases(template: dict[str, Any], fields: list[str]) -> st.SearchStrategy[Any]:
    """Mostly mutations of a valid body; some deep nesting, some other JSON, some raw bytes."""
    return st.one_of(
        mutated(template, fields),
        mutated(template, fields),
        mutated(template, fields),
        deep(template),
        JSON,
        st.binary(max_size=40),
    )


# -- sending and checking ------------------------------------------------------------------


@dataclass
class Tally:
    cases: int = 0
    by_status: dict[int, int] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)

    @property
    def server_errors(self) -> int:
        return sum(n for status, n in self.by_status.items() if status >= 500)


TALLY = Tally()


def send(gateway: GatewayProcess, method: str, path: str, body: Any, client: httpx.Client) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return client.request(
        method,
        gateway.url + path,
        content=content,
        headers={"authorization": f"Bearer {MASTER}", "content-type": "application/json"},
        timeout=30,
    )


def check(response: httpx.Response, shape: str, body: Any) -> None:
    TALLY.cases += 1
    TALLY.by_status[response.status_code] = TALLY.by_status.get(response.status_code, 0) + 1
    sent = body if isinstance(body, bytes) else json.dumps(body)[:300]
    if TALLY_ONLY:
        return
    assert response.status_code < 500, f"{response.status_code} for {sent!r}: {response.text[:300]}"
    if response.status_code < 400:
        return
    error = response.json()
    if shape == "anthropic":
        assert error["type"] == "error", error
        assert isinstance(error["error"]["type"], str) and isinstance(error["error"]["message"], str), error
    else:
        assert set(error["error"]) >= {"message", "type", "param", "code"}, error
        assert isinstance(error["error"]["message"], str) and error["error"]["message"], error
