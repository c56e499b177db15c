"""How often the worst-case reservation refuses a request whose real cost would have fit (not
a test: prints numbers).

    PYTHONPATH=src .venv/bin/python benchmarks/false_refusals.py --requests 20000

A refusal is false when the request's real cost is at most the balance left but its
reservation is more. The reservation is the gateway's own ``ReservationPolicy`` over a config
with a cheap model, a dear fallback and a dynamic catalog model; the real cost is the
catalog's price of an honest usage: prompt tokens = UTF-8 bytes / 4, output tokens a share of
``max_tokens`` (uniform 5–100 %) or, without ``max_tokens``, a typical answer (log-uniform
50–2,000 tokens), times ``n``; a request with fallbacks is answered by its primary 90 % of the
time. Balances are log-uniform between $0.0001 and $1. Rates are over the requests that fit.
"""

from __future__ import annotations

import argparse
import copy
import math
import random
from collections import Counter
from typing import Any

from unigate.accounts.models import to_nano
from unigate.accounts.reservation import ReservationPolicy
from unigate.catalog.counting import prompt_bytes
from unigate.config import AccountsConfig, GatewayConfig
from unigate.gateway import Gateway

UPSTREAM = "http://127.0.0.1:9/v1"


def _model(name: str, upstream: str, input_price: float, output_price: float, **routing: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "name": name,
        "deployments": [{"provider": "openai", "model": upstream, "api_base": UPSTREAM, "api_key": "k"}],
        "pricing": {"input_per_mtok": input_price, "output_per_mtok": output_price},
        "capabilities": {"max_output_tokens": 16384},
    }
    if routing:
        entry["routing"] = routing
    return entry


def gateway() -> Gateway:
    config = GatewayConfig.model_validate(
        {
            "local_model": {"enabled": False},
            "providers": {"openai": {"api_base": UPSTREAM, "api_key": "k"}},
            "models": [
                _model("cheap", "gpt-4o-mini", 0.15, 0.6),
                _model("dear", "gpt-4o", 2.5, 10.0),
                _model("chain", "gpt-4o-mini", 0.15, 0.6, fallbacks=["dear"]),
            ],
        }
    )
    return Gateway(config, environ={})


def sample(rng: random.Random) -> tuple[dict[str, Any], str, str]:
    """A request, the class it belongs to, and the model that answers it."""
    model = rng.choice(["cheap", "chain", "openai/gpt-4o-mini"])
    words = " ".join("word" for _ in range(int(math.exp(rng.uniform(math.log(5), math.log(3000))))))
    request: dict[str, Any] = {"model": model, "messages": [{"role": "user", "content": words}]}
    kind = []
    if rng.random() < 0.6:
        request["max_tokens"] = rng.choice([64, 256, 1024, 4096])
        kind.append("max_tokens")
    else:
        kind.append("no max_tokens")
    if rng.random() < 0.15:
        request["n"] = rng.randint(2, 4)
        kind.append("n>1")
    if rng.random() < 0.15:
        request["models"] = ["dear"]
        kind.append("fallback")
    answered = "dear" if (request.get("models") or model == "chain") and rng.random() < 0.1 else model
    return request, " + ".join(kind), answered


def real_cost(gw: Gateway, request: dict[str, Any], answered: str, rng: random.Random) -> int:
    prompt = -(-prompt_bytes(request) // 4)
    limit = request.get("max_tokens")
    per_choice = (
        max(1, int(limit * rng.uniform(0.05, 1.0)))
        if limit
        else int(math.exp(rng.uniform(math.log(50), math.log(2000))))
    )
    deployment = gw.find_group(answered).deployments[0]  # type: ignore[union-attr]
    usage = {"prompt_tokens": prompt, "completion_tokens": per_choice * int(request.get("n") or 1)}
    cost = gw.catalog.cost(deployment.provider, deployment.model, usage, deployment.public_name)
    return to_nano(cost or 0.0)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    gw = gateway()
    policy = ReservationPolicy(gw.find_group, gw.catalog, AccountsConfig())
    fits: Counter[str] = Counter()
    false: Counter[str] = Counter()
    over: list[float] = []
    for _ in range(args.requests):
        request, kind, answered = sample(rng)
        reserved = policy.reserve(copy.deepcopy(request), request["model"], "chat").nusd
        cost = real_cost(gw, request, answered, rng)
        assert cost <= reserved, (request, cost, reserved)  # the reservation is a bound
        over.append(reserved / max(cost, 1))
        balance = to_nano(math.exp(rng.uniform(math.log(1e-4), math.log(1.0))))
        if cost <= balance:
            for label in (kind, "all"):
                fits[label] += 1
                false[label] += reserved > balance
    print(
        f"{args.requests} requests (seed {args.seed}); reservation / real cost: median {sorted(over)[len(over) // 2]:.1f}x"
    )
    for label in sorted(fits, key=lambda k: (k != "all", k)):
        print(
            f"  {label:32s} false refusals {false[label] / fits[label]:7.2%}  ({false[label]} of {fits[label]} that fit)"
        )


if __name__ == "__main__":
    main()
