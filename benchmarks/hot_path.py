"""The gateway's own cost per request, without sockets: the ASGI app is called directly and the
provider is replaced by one that answers from memory. What is left is exactly what unigate adds
on top of the HTTP server and client (parse, validate, auth, route, hooks, serialize).

    .venv/bin/python benchmarks/hot_path.py            # µs per request, JSON and streaming
    .venv/bin/python benchmarks/hot_path.py --profile  # cProfile of the streaming path
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import tempfile
import time
from collections.abc import AsyncIterator
from typing import Any

import orjson

from unigate.config import validate
from unigate.server import create_app
from unigate.types import make_chunk, make_response, make_usage

REQUEST = orjson.dumps(
    {
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": "What is the capital of France?"}],
        "max_tokens": 64,
    }
)
STREAM_REQUEST = orjson.dumps({**orjson.loads(REQUEST), "stream": True, "stream_options": {"include_usage": True}})
WORDS = ["Paris", " is", " the", " capital", " of", " France", "."]


class MemoryProvider:
    name = "openai"

    async def chat(self, request: dict[str, Any], deployment: Any) -> dict[str, Any]:
        message = {"role": "assistant", "content": "".join(WORDS)}
        return make_response(deployment.public_name, message, "stop", make_usage(24, 22))

    async def chat_stream(self, request: dict[str, Any], deployment: Any) -> AsyncIterator[dict[str, Any]]:
        rid = "chatcmpl-bench"
        yield make_chunk(rid, deployment.public_name, {"role": "assistant", "content": ""})
        for word in WORDS:
            yield make_chunk(rid, deployment.public_name, {"content": word})
        yield make_chunk(rid, deployment.public_name, {}, "stop")
        yield make_chunk(rid, deployment.public_name, None, usage=make_usage(24, 7))


def scope() -> dict[str, Any]:
    return {
        "type": "http",
        "method": "POST",
        "path": "/v1/chat/completions",
        "query_string": b"",
        "headers": [(b"content-type", b"application/json"), (b"authorization", b"Bearer sk-bench")],
    }


async def one(app: Any, body: bytes) -> int:
    sent = 0
    delivered = False
    done = asyncio.Event()

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        await done.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal sent
        if message["type"] == "http.response.body":
            sent += len(message.get("body", b""))
            if not message.get("more_body"):
                done.set()

    await app(scope(), receive, send)
    return sent


async def run(n: int, profile: bool) -> None:
    with tempfile.TemporaryDirectory() as data_dir:
        config = validate(
            {
                "models": [{"name": "gpt-4o-mini", "deployments": [{"provider": "openai", "model": "gpt-4o-mini"}]}],
                "local_model": {"enabled": False},
                "discover_providers": False,
                "data_dir": data_dir,
            }
        )
        app = create_app(config)
        await app.startup()
        assert app.gateway.providers is not None
        app.gateway.providers._instances["openai"] = MemoryProvider()
        for label, body in (("json", REQUEST), ("stream", STREAM_REQUEST)):
            for _ in range(200):
                await one(app, body)
            profiler = cProfile.Profile() if profile and label == "stream" else None
            started = time.perf_counter()
            if profiler:
                profiler.enable()
            for _ in range(n):
                await one(app, body)
            if profiler:
                profiler.disable()
            elapsed = time.perf_counter() - started
            print(f"{label:6} {elapsed / n * 1e6:8.1f} µs per request in the gateway's own code ({n} requests)")
            if profiler:
                pstats.Stats(profiler).sort_stats("cumulative").print_stats(35)
        await app.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", type=int, default=5000)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(run(args.n, args.profile))


if __name__ == "__main__":
    main()
