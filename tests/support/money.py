"""The money harness: random interleavings of requests, top-ups and revocations against a real
gateway and a fake upstream, and the invariants of docs/accounts.md checked on what happened.

Used by tests/accounts/test_properties.py (bounded, in CI) and benchmarks/money_properties.py
(longer; prints the largest spend/credit ratio seen).

Each request tells the fake upstream what to do (a ``@mode`` system message): answer with or
without usage, stream, cut the stream half-way, fail with a 500 (the router falls back). The
upstream is honest (it stops at ``max_tokens`` and counts its text as UTF-8 bytes / 4), so
"what was produced" is known on the client side from what it received.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx
from hypothesis import strategies as st

MASTER = "sk-master-money"
OUTPUT_PRICE = 20.0  # USD per 1M output tokens of "cheap" ($0.00002 a token); input a hundredth of it
DEAR_PRICE = 200.0  # "dear", the fallback
MODELS = ["cheap", "chain", "openai/gpt-4o-mini"]


def gateway_config(upstream_url: str) -> dict[str, Any]:
    def model(name: str, price: float, **routing: Any) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "name": name,
            "deployments": [{"provider": "openai", "model": name, "api_base": upstream_url, "api_key": "sk-up"}],
            "pricing": {"input_per_mtok": price / 100, "output_per_mtok": price},
        }
        if routing:
            entry["routing"] = routing
        return entry

    return {
        "server": {"master_key": MASTER},
        "providers": {"openai": {"api_base": upstream_url, "api_key": "sk-up"}},
        "models": [
            model("cheap", OUTPUT_PRICE),
            model("dear", DEAR_PRICE),
            model("chain", OUTPUT_PRICE, fallbacks=["dear"]),
        ],
        "accounts": {"ledger_flush_interval": 0.2},
    }


@dataclass(frozen=True)
class Call:
    model: str
    stream: bool
    behaviour: str  # ok | no_usage | cut | fail (500, the router falls back)
    text_bytes: int
    max_tokens: int | None
    n: int
    fallback: str | None  # models: [...] | route | None
    abandon_after: int | None  # stream: lines read before the client hangs up


@dataclass(frozen=True)
class TopUp:
    amount: float


@dataclass(frozen=True)
class Revoke:
    pass


calls = st.builds(
    Call,
    model=st.sampled_from(MODELS),
    stream=st.booleans(),
    behaviour=st.sampled_from(["ok", "ok", "no_usage", "cut", "fail"]),
    text_bytes=st.integers(1, 2400),
    max_tokens=st.one_of(st.none(), st.integers(1, 600), st.integers(1, 600)),
    n=st.integers(1, 3),
    fallback=st.sampled_from([None, None, "models", "route"]),
    abandon_after=st.one_of(st.none(), st.integers(1, 6)),
)
operations = st.lists(
    st.one_of(*[calls] * 24, st.builds(TopUp, st.sampled_from([0.0005, 0.001, 0.002])), st.just(Revoke())),
    min_size=1,
    max_size=16,
)
credits = st.sampled_from([0.01, 0.005, 0.02, 0.05])


@dataclass
class Outcome:
    credit: float
    spent: float
    ledger_cost: float
    ledger_rows: int
    admitted: int
    duplicate_rows: int
    undercharged: list[str] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)

    @property
    def ratio(self) -> float:
        return self.spent / self.credit if self.credit else 0.0


def _body(call: Call) -> dict[str, Any]:
    mode: dict[str, Any] = {"text": "y" * call.text_bytes, "honest": True, "chunks": 4}
    if call.behaviour == "no_usage":
        mode["omit_usage"] = True
    elif call.behaviour == "cut":
        mode["kind"] = "stream_cut"
    elif call.behaviour == "fail":
        mode.update(kind="status", status=500)
    body: dict[str, Any] = {
        "model": call.model,
        "messages": [{"role": "system", "content": "@mode " + json.dumps(mode)}, {"role": "user", "content": "go"}],
    }
    if call.max_tokens is not None:
        body["max_tokens"] = call.max_tokens
    if call.n > 1:
        body["n"] = call.n
    if call.fallback == "models":
        body["models"] = ["dear"]
    elif call.fallback == "route":
        body["route"] = {"fallbacks": ["dear"]}
    if call.stream:
        body["stream"] = True
    return body


def _received_bytes(lines: list[str]) -> int:
    total = 0
    for line in lines:
        if not line.startswith("data: {"):
            continue
        for choice in json.loads(line[6:]).get("choices") or ():
            total += len(((choice.get("delta") or {}).get("content") or "").encode())
    return total


def _send(client: httpx.Client, key: str, call: Call) -> tuple[int, str | None, int]:
    """(status, request id, output bytes the client received)."""
    headers = {"authorization": f"Bearer {key}"}
    if not call.stream:
        reply = client.post("/v1/chat/completions", headers=headers, json=_body(call))
        received = 0
        if reply.status_code == 200:
            received = sum(len((c["message"].get("content") or "").encode()) for c in reply.json()["choices"])
        return reply.status_code, reply.headers.get("x-request-id"), received
    lines: list[str] = []
    with client.stream("POST", "/v1/chat/completions", headers=headers, json=_body(call)) as reply:
        if reply.status_code == 200:
            for line in reply.iter_lines():
                lines.append(line)
                if call.abandon_after is not None and len(lines) >= call.abandon_after:
                    break  # the client hangs up
        else:
            reply.read()
        return reply.status_code, reply.headers.get("x-request-id"), _received_bytes(lines)


NOT_ADMITTED = {400, 401, 402, 403, 404, 429}


def _revoke(admin: httpx.Client, key_id: str) -> None:
    admin.delete(f"/admin/keys/{key_id}")


def run_example(url: str, credit: float, ops: list[Any], workers: int = 4) -> Outcome:
    admin = httpx.Client(base_url=url, headers={"authorization": f"Bearer {MASTER}"}, timeout=60)
    created = admin.post("/admin/keys", json={"name": "prop", "credit": credit}).json()
    key, key_id = created["key"], created["id"]
    total_credit = credit
    results: list[tuple[int, str | None, int]] = []
    with httpx.Client(base_url=url, timeout=60) as client, ThreadPoolExecutor(workers) as pool:
        pending = []
        for op in ops:
            if isinstance(op, Call):
                pending.append(pool.submit(_send, client, key, op))
            elif isinstance(op, TopUp):
                if admin.post(f"/admin/keys/{key_id}/topup", json={"amount": op.amount}).status_code == 200:
                    total_credit += op.amount
            else:  # interleaved with the requests in flight
                pending.append(pool.submit(_revoke, admin, key_id))
        results = [r for f in pending if (r := f.result()) is not None]
    admitted = {rid: received for status, rid, received in results if status not in NOT_ADMITTED and rid}
    deadline = time.monotonic() + 30
    while True:  # settled and written
        admin.post("/admin/usage/flush")
        usage = admin.get("/admin/usage", params={"key_id": key_id, "limit": 1000}).json()
        info = admin.get(f"/admin/keys/{key_id}").json()
        credit_now = info["balance"]["credit"]
        if (usage["total"]["requests"] >= len(admitted) and not credit_now["reserved"]) or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    rows = usage["data"]
    ids = [r["request_id"] for r in rows]
    undercharged = [
        f"{rid}: received {received} bytes, charged {row['output_tokens']} tokens"
        for row in rows
        if (rid := row["request_id"]) in admitted and row["output_tokens"] < -(-(received := admitted[rid]) // 4)
    ]
    admin.close()
    return Outcome(
        credit=total_credit,
        spent=float(credit_now["spent"]),
        ledger_cost=float(usage["total"]["cost"]),
        ledger_rows=len(rows),
        admitted=len(admitted),
        duplicate_rows=len(ids) - len(set(ids)),
        undercharged=undercharged,
        statuses=dict(Counter(status for status, _, _ in results)),
    )
