"""Fault-injection harness (the acceptance test of routing): thousands of concurrent requests,
streaming and not, through a real gateway process with the official ``openai`` SDK, while fake
upstreams on loopback fail in every way a provider does.

Checked: every request to a group (or chain) with a healthy deployment succeeds with the exact
answer; a 400 is never sent twice; cooldowns engage and recover (``/health/ready`` and the
timestamped log lines); streams cut after the first chunk end with an error event (the SDK
raises ``APIError``) or, with continuation on, arrive as one uninterrupted answer.
"""

from __future__ import annotations

import asyncio
import json
import random
import threading
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import openai

from tests.support.fake_upstream import Mode

TIMEOUTS = {"connect": 1.0, "first_token": 0.6, "total": 5.0}  # headroom for a loaded 2-core CI machine
FAST_BREAKER = {"allowed_fails": 3, "cooldown": 0.5, "max_cooldown": 2.0}

# What the failing upstreams do, per request (before or after the first chunk).
CHAOS = [
    Mode("ok"),
    Mode("status", status=500),
    Mode("status", status=502),
    Mode("status", status=503),
    Mode("status", status=429, retry_after=1),
    Mode("reset"),
    Mode("malformed"),
    Mode("hang"),
    Mode("stall_body"),
    Mode("stream_cut", chunks=6),
    Mode("stream_stall", chunks=6),
]
CUT = [Mode("stream_cut", chunks=6), Mode("stream_stall", chunks=6)]


def deployment(upstream: Any, id: str) -> dict[str, Any]:
    return {
        "provider": "openai",
        "model": "gpt-4o-mini",
        "id": id,
        "api_base": upstream.base_url,
        "api_key": "sk-up",
        "timeouts": TIMEOUTS,
    }


@dataclass
class Fleet:
    """The fake upstreams and the gateway config that puts them in groups."""

    upstreams: dict[str, Any]
    config: dict[str, Any]


def build_fleet(make_upstream: Any) -> Fleet:
    ups = {
        "ok1": make_upstream(Mode(), name="ok1"),
        "ok2": make_upstream(Mode(), name="ok2"),
        "chaos1": make_upstream(Mode("random", choices=CHAOS), name="chaos1"),
        "chaos2": make_upstream(Mode("random", choices=CHAOS), name="chaos2"),
        "dead": make_upstream(Mode("status", status=503), name="dead"),
        "hang": make_upstream(Mode("hang"), name="hang"),
        "cutter": make_upstream(Mode("random", choices=CUT), name="cutter"),
        "bad400": make_upstream(Mode("status", status=400, message="invalid 'temperature'"), name="bad400"),
    }
    for index, upstream in enumerate(ups.values()):
        upstream.upstream._rng.seed(index)
    routing = {**FAST_BREAKER, "continue_on_failure": True}
    models = [
        {
            # one healthy deployment among three that fail every way, before or after the first chunk
            "name": "mixed",
            "deployments": [
                deployment(ups["chaos1"], "chaos1"),
                deployment(ups["chaos2"], "chaos2"),
                deployment(ups["ok1"], "ok1"),
            ],
            "routing": {**routing, "strategy": "weighted"},
        },
        {
            # every deployment down: the chain answers
            "name": "down",
            "deployments": [deployment(ups["dead"], "dead"), deployment(ups["hang"], "hang")],
            "routing": {**FAST_BREAKER, "strategy": "round_robin", "fallbacks": ["backup"]},
        },
        {"name": "backup", "deployments": [deployment(ups["ok2"], "ok2")], "routing": FAST_BREAKER},
        {
            # a lone deployment that cuts every stream after the first chunk; no continuation
            "name": "cuts",
            "deployments": [deployment(ups["cutter"], "cutter")],
            "routing": {**FAST_BREAKER, "allowed_fails": 1000},
        },
        {"name": "strict", "deployments": [deployment(ups["bad400"], "bad400")]},
        {"name": "lonely", "deployments": [deployment(ups["dead"], "lonely")], "routing": {"retries": 0}},
    ]
    return Fleet(ups, {"models": models, "discover_providers": False})


@dataclass
class Tally:
    sent: Counter[str] = field(default_factory=Counter)
    ok: Counter[str] = field(default_factory=Counter)
    wrong: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    api_errors_midstream: int = 0
    bad_requests: int = 0
    continued: int = 0


async def one_request(client: openai.AsyncOpenAI, kind: str, index: int, tally: Tally) -> None:
    prompt = f"request {index} asks for a reasonably long answer about {kind}"
    expected = "echo: " + prompt
    messages = [{"role": "user", "content": prompt}]
    stream = index % 2 == 0 or kind == "cuts"
    extra: dict[str, Any] = {}
    model = kind
    if kind == "lonely":  # request-level chain: OpenRouter's models list, or the route object
        extra = {"models": ["lonely", "backup"]} if index % 4 < 2 else {"route": {"fallbacks": ["backup"]}}
    label = f"{kind}/{'stream' if stream else 'json'}"
    tally.sent[label] += 1
    try:
        if stream:
            text = ""
            response = await client.chat.completions.with_raw_response.create(
                model=model, messages=messages, stream=True, extra_body=extra or None
            )
            async for chunk in response.parse():
                if chunk.choices:
                    text += chunk.choices[0].delta.content or ""
        else:
            response = await client.chat.completions.with_raw_response.create(
                model=model, messages=messages, extra_body=extra or None
            )
            text = response.parse().choices[0].message.content or ""
    except openai.BadRequestError:
        if kind == "strict":
            tally.bad_requests += 1
            return
        tally.failed.append(f"{label}: 400")
        return
    except openai.APIError as exc:
        if kind == "cuts" and stream and not isinstance(exc, openai.APIStatusError):
            tally.api_errors_midstream += 1
            return
        tally.failed.append(f"{label}: {type(exc).__name__}: {exc}")
        return
    if kind == "cuts" and stream:
        tally.failed.append(f"{label}: a cut stream completed")
        return
    if text != expected:
        tally.wrong.append(f"{label}: {text!r} != {expected!r}")
        return
    tally.ok[label] += 1


WEIGHTS = {"mixed": 0.62, "down": 0.14, "lonely": 0.1, "cuts": 0.08, "strict": 0.06}


async def drive(base_url: str, total: int, concurrency: int = 48, seed: int = 7) -> Tally:
    rng = random.Random(seed)
    kinds = rng.choices(list(WEIGHTS), weights=list(WEIGHTS.values()), k=total)
    tally = Tally()
    client = openai.AsyncOpenAI(base_url=base_url, api_key="unused", max_retries=0, timeout=30)
    queue: asyncio.Queue[tuple[int, str]] = asyncio.Queue()
    for item in enumerate(kinds):
        queue.put_nowait(item)

    async def worker() -> None:
        while not queue.empty():
            index, kind = queue.get_nowait()
            await one_request(client, kind, index, tally)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    await client.close()
    return tally


class ReadyPoller(threading.Thread):
    """Polls ``/health/ready`` and remembers every state each deployment was seen in, and when."""

    def __init__(self, url: str, interval: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.url = url + "/health/ready"
        self.interval = interval
        self.seen: dict[str, dict[str, float]] = {}
        self.stop_flag = threading.Event()

    def snapshot(self) -> dict[str, Any]:
        try:
            with urllib.request.urlopen(self.url, timeout=2) as reply:
                return json.loads(reply.read())
        except urllib.error.HTTPError as exc:  # 503 when nothing is ready: still a body
            return json.loads(exc.read())

    def run(self) -> None:
        while not self.stop_flag.is_set():
            try:
                body = self.snapshot()
            except OSError:
                body = {"deployments": []}
            now = time.monotonic()
            for entry in body["deployments"]:
                self.seen.setdefault(entry["deployment"], {}).setdefault(entry["state"], now)
            self.stop_flag.wait(self.interval)


def test_mixed_faults_every_request_to_a_healthy_chain_succeeds(start_gateway, make_upstream):
    fleet = build_fleet(make_upstream)
    gateway = start_gateway(fleet.config, env={"UNIGATE_LOG_LEVEL": "WARNING"})
    poller = ReadyPoller(gateway.url)
    poller.start()
    total = 3000
    started = time.monotonic()
    tally = asyncio.run(drive(gateway.base_url, total))
    elapsed = time.monotonic() - started

    # recovery: the failing upstreams heal; after their cooldown they are probed and come back
    for name in ("chaos1", "chaos2", "dead", "hang"):
        fleet.upstreams[name].upstream.default = Mode()
    time.sleep(2.2)  # longer than max_cooldown
    client = openai.OpenAI(base_url=gateway.base_url, api_key="unused", max_retries=0)
    for _ in range(40):
        for model in ("mixed", "down"):
            client.chat.completions.create(model=model, messages=[{"role": "user", "content": "heal"}])
    final = {d["deployment"]: d["state"] for d in poller.snapshot()["deployments"]}
    poller.stop_flag.set()
    poller.join(2)

    report = {
        "total": total,
        "seconds": round(elapsed, 1),
        "ok": dict(tally.ok),
        "sent": dict(tally.sent),
        "midstream_api_errors": tally.api_errors_midstream,
        "bad_requests": tally.bad_requests,
        "upstream_calls": {name: len(u.chat_calls()) for name, u in fleet.upstreams.items()},
        "states_seen": {d: sorted(s) for d, s in poller.seen.items()},
        "final": final,
    }
    print("\nHARNESS " + json.dumps(report))

    assert not tally.failed, tally.failed[:10]
    assert not tally.wrong, tally.wrong[:10]
    succeeded = sum(tally.ok.values())
    assert succeeded + tally.api_errors_midstream + tally.bad_requests == total
    assert succeeded >= 0.8 * total
    # cut streams without continuation: well-formed error events (the SDK raised APIError)
    assert tally.api_errors_midstream == tally.sent["cuts/stream"]
    # a 400 is answered once and never retried or sent elsewhere
    assert (
        len(fleet.upstreams["bad400"].chat_calls())
        == tally.bad_requests
        == sum(n for label, n in tally.sent.items() if label.startswith("strict/"))
    )
    # cooldowns engaged during the run and every deployment recovered after
    for name in ("chaos1", "chaos2", "dead", "hang"):
        assert "cooling_down" in poller.seen[name] or "failing" in poller.seen[name], (name, poller.seen[name])
        assert final[name] == "healthy", (name, final)
    log = gateway.log_path.read_text(errors="replace")
    assert "cooling down until" in log and "healthy again" in log
