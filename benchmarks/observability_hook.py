"""Measure what the observability hook adds per request: ``.venv/bin/python benchmarks/observability_hook.py``.

Runs ``before`` + ``after`` on realistic request contexts (metrics, time series and the JSON
request log to /dev/null; OpenTelemetry off) and prints microseconds per request.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time

from unigate.config import ObservabilityConfig, validate
from unigate.gateway import Gateway, Principal, RequestContext
from unigate.observability.hook import ObservabilityHook
from unigate.observability.logs import LogSetup
from unigate.routing.router import Attempt
from unigate.types import Deployment


def _context(i: int, deployment: Deployment) -> RequestContext:
    ctx = RequestContext(
        request_id=f"req_{i}",
        principal=Principal("key", key_id=f"key_{i % 20}", key_name=f"app-{i % 20}", team_id=f"team-{i % 5}"),
        model=deployment.public_name,
        stream=bool(i % 2),
    )
    ctx.trace.deployment = deployment
    ctx.trace.attempts.append(Attempt(deployment.id))
    ctx.trace.ttft_ms = 80.0 + i % 50 if ctx.stream else None
    ctx.usage = {"prompt_tokens": 100 + i % 30, "completion_tokens": 40}
    ctx.cost = 0.00012
    ctx.latency_ms = 300.0 + i % 200
    return ctx


async def _run(n: int, logs: bool) -> float:
    config = validate(
        {
            "local_model": {"enabled": False},
            "discover_providers": False,
            "models": [
                {"name": f"m{j}", "deployments": [{"provider": "openai", "model": f"up{j}", "api_key": "k"}]}
                for j in range(4)
            ],
        }
    )
    gateway = Gateway(config, environ={})
    setup = LogSetup(stream=open(os.devnull, "w")) if logs else None  # noqa: SIM115
    hook = ObservabilityHook(gateway.groups, ObservabilityConfig(log_requests=logs), logs=setup)
    deployments = [g.deployments[0] for g in gateway.groups.values()]
    contexts = [_context(i, deployments[i % len(deployments)]) for i in range(n)]
    request: dict[str, object] = {"model": "m0", "messages": []}
    for ctx in contexts[:1000]:  # warm the label caches
        await hook.before(ctx, request)
        await hook.after(ctx)
    started = time.perf_counter()
    for ctx in contexts:
        await hook.before(ctx, request)
        await hook.after(ctx)
    elapsed = time.perf_counter() - started
    if setup is not None:
        setup.close()
    return elapsed / n * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", type=int, default=50_000)
    args = parser.parse_args()
    for logs in (False, True):
        us = asyncio.run(_run(args.n, logs))
        print(f"observability hook, request log {'on ' if logs else 'off'}: {us:6.2f} µs per request")


if __name__ == "__main__":
    main()
