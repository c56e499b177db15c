"""A fake OpenAI-compatible upstream: a real aiohttp server on 127.0.0.1.

It answers ``/v1/chat/completions`` and ``/v1/embeddings`` and can be told to fail in every way
a real provider does. Behaviour is a queue of ``Mode`` objects consumed one per request, then
``default``; every request is recorded.

    upstream = FakeUpstream(default=Mode("ok"))
    await upstream.start()
    upstream.script(Mode("status", status=429, retry_after=1), Mode("ok"))
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from dataclasses import dataclass, field, fields, replace
from typing import Any

from aiohttp import web


@dataclass
class Mode:
    """What the upstream does for one request.

    kind: ok | status | hang | malformed | reset | stall_body | stream_cut | stream_stall | random
    (``random``: one of ``choices``, picked per request by the upstream's seeded RNG)

    A request whose last message is an assistant message ending a prefix of the reply gets the
    rest of the reply (the assistant-prefix continuation real providers offer). A request whose
    first message is a system message ``@mode {json}`` is answered in that mode (the test says,
    per request, what the upstream does).
    """

    kind: str = "ok"
    status: int = 200
    retry_after: float | None = None
    message: str = "fake upstream error"
    error_code: str | None = None
    text: str | None = None  # reply text (default: echo of the last user message)
    chunks: int = 4  # stream: content chunks before finishing (or before cutting/stalling)
    delay: float = 0.0  # seconds before answering
    prompt_tokens: int = 10
    completion_tokens: int = 5
    tool_call: dict[str, Any] | None = None  # {"name":..., "arguments": "..."}: answer with a tool call
    choices: list[Mode] | None = None  # kind "random": pick one of these per request
    omit_usage: bool = False  # answer (and stream) without any usage
    honest: bool = False  # usage counts the text sent (UTF-8 bytes / 4, rounded up), cut to max_tokens
    usage_delay: float = 0.0  # stream: seconds between the finish_reason chunk and the usage chunk


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    at: float
    raw_path: str = ""  # as sent, percent-encoding and query included


@dataclass
class FakeUpstream:
    default: Mode = field(default_factory=Mode)
    name: str = "fake"
    received: list[Received] = field(default_factory=list)
    _queue: list[Mode] = field(default_factory=list)
    _runner: web.AppRunner | None = None
    port: int = 0
    seed: int = 0
    _rng: random.Random = field(default_factory=random.Random)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def script(self, *modes: Mode) -> None:
        self._queue.extend(modes)

    def chat_calls(self) -> list[Received]:
        return [r for r in self.received if r.path.endswith("/chat/completions")]

    async def start(self) -> FakeUpstream:
        self._rng.seed(self.seed)
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_post("/v1/embeddings", self._embeddings)
        app.router.add_post("/{prefix:.*}/chat/completions", self._chat)  # Azure-style deployment paths
        app.router.add_route("*", "/{tail:.*}", self._unknown)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def _next(self) -> Mode:
        mode = self._queue.pop(0) if self._queue else self.default
        while mode.kind == "random" and mode.choices:
            mode = self._rng.choice(mode.choices)
        return mode

    # -- handlers --------------------------------------------------------------------------

    async def _unknown(self, request: web.Request) -> web.Response:
        """Any other path: recorded (so tests can see where a request landed) and refused."""
        headers = {k.lower(): v for k, v in request.headers.items()}
        self.received.append(Received(request.path, headers, {}, time.monotonic(), request.raw_path))
        return web.json_response({"error": {"message": "no such path", "type": "not_found"}}, status=404)

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        try:
            body = json.loads(raw)
        except ValueError:
            body = {}
        self.received.append(
            Received(
                request.path,
                {k.lower(): v for k, v in request.headers.items()},
                body,
                time.monotonic(),
                request.raw_path,
            )
        )
        mode = _directed(body) or self._next()
        if mode.delay:
            await asyncio.sleep(mode.delay)
        if mode.kind == "status":
            headers = {"retry-after": str(mode.retry_after)} if mode.retry_after is not None else {}
            error = {"message": mode.message, "type": "error", "code": mode.error_code}
            return web.json_response({"error": error}, status=mode.status, headers=headers)
        if mode.kind == "hang":
            await asyncio.sleep(3600)
        if mode.kind == "reset":
            assert request.transport is not None
            request.transport.abort()
            return web.Response()
        if mode.kind == "malformed":
            return web.Response(body=b'{"choices": [ this is not json', content_type="application/json")
        text = mode.text if mode.text is not None else "echo: " + _last_user_text(body)
        if mode.honest:  # a real upstream stops at max_tokens
            limit = body.get("max_completion_tokens") or body.get("max_tokens")
            if isinstance(limit, int):
                text = text[: 4 * limit]
            mode = replace(mode, completion_tokens=-(-len(text.encode()) // 4))
        prefix = _assistant_prefix(body)
        if prefix and text.startswith(prefix):
            text = text[len(prefix) :]
        model = body.get("model", "fake-model")
        if body.get("stream") or mode.kind in ("stream_cut", "stream_stall"):
            return await self._stream(request, body, mode, text, model)
        if mode.kind == "stall_body":
            response = web.StreamResponse(headers={"content-type": "application/json"})
            await response.prepare(request)
            await response.write(b'{"id": "x", ')
            await asyncio.sleep(3600)
        message: dict[str, Any] = {"role": "assistant", "content": text}
        finish = "stop"
        if mode.tool_call:
            message = {
                "role": "assistant",
                "content": None,
                "tool_calls": [{"id": "call_fake1", "type": "function", "function": mode.tool_call}],
            }
            finish = "tool_calls"
        reply = {
            "id": "chatcmpl-fake",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": None}],
            "usage": _usage(mode),
        }
        if mode.omit_usage:
            del reply["usage"]
        return web.json_response(reply)

    async def _stream(
        self, request: web.Request, body: dict[str, Any], mode: Mode, text: str, model: str
    ) -> web.StreamResponse:
        response = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await response.prepare(request)

        async def event(data: dict[str, Any]) -> None:
            await response.write(b"data: " + json.dumps(data).encode() + b"\n\n")

        def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
            return {
                "id": "chatcmpl-fake",
                "object": "chat.completion.chunk",
                "created": int(time.time()),
                "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            }

        await event(chunk({"role": "assistant", "content": ""}))
        pieces = _split(text, max(1, mode.chunks))
        for index, piece in enumerate(pieces):
            if mode.kind in ("stream_cut", "stream_stall") and index == mode.chunks // 2:
                if mode.kind == "stream_cut":
                    assert request.transport is not None
                    request.transport.abort()
                    return response
                await asyncio.sleep(3600)
            await event(chunk({"content": piece}))
        await event(chunk({}, "stop"))
        if mode.usage_delay:
            await asyncio.sleep(mode.usage_delay)
        if (body.get("stream_options") or {}).get("include_usage") and not mode.omit_usage:
            await event({**chunk({}), "choices": [], "usage": _usage(mode)})
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response

    async def _embeddings(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.received.append(
            Received(request.path, {k.lower(): v for k, v in request.headers.items()}, body, time.monotonic())
        )
        inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
        data = [{"object": "embedding", "index": i, "embedding": [0.1 * (i + 1), 0.2, 0.3]} for i in range(len(inputs))]
        return web.json_response(
            {
                "object": "list",
                "data": data,
                "model": body.get("model"),
                "usage": {"prompt_tokens": 3 * len(inputs), "total_tokens": 3 * len(inputs)},
            }
        )


_MODE_FIELDS = {f.name for f in fields(Mode)} - {"choices"}


def _directed(body: dict[str, Any]) -> Mode | None:
    messages = body.get("messages") or []
    first = messages[0] if messages and isinstance(messages[0], dict) else {}
    content = first.get("content")
    if first.get("role") == "system" and isinstance(content, str) and content.startswith("@mode "):
        settings = json.loads(content[len("@mode ") :])
        return Mode(**{k: v for k, v in settings.items() if k in _MODE_FIELDS})
    return None


def _usage(mode: Mode) -> dict[str, int]:
    return {
        "prompt_tokens": mode.prompt_tokens,
        "completion_tokens": mode.completion_tokens,
        "total_tokens": mode.prompt_tokens + mode.completion_tokens,
    }


def _last_user_text(body: dict[str, Any]) -> str:
    for message in reversed(body.get("messages") or []):
        if message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, str):
                return content
            if isinstance(content, list):
                return " ".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""


def _assistant_prefix(body: dict[str, Any]) -> str:
    messages = body.get("messages") or []
    if messages and messages[-1].get("role") == "assistant" and isinstance(messages[-1].get("content"), str):
        return str(messages[-1]["content"])
    return ""


def _split(text: str, parts: int) -> list[str]:
    size = max(1, -(-len(text) // parts))
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


class ThreadedUpstream:
    """A FakeUpstream on its own event loop in a daemon thread, so synchronous clients (the
    blocking ``openai`` SDK) and the gateway subprocess can both talk to it from a test."""

    def __init__(self, upstream: FakeUpstream) -> None:
        import threading

        self.upstream = upstream
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        asyncio.run_coroutine_threadsafe(upstream.start(), self._loop).result(10)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.upstream, name)

    def stop(self) -> None:
        async def shutdown() -> None:
            await self.upstream.stop()
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
