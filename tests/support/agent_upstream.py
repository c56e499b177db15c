"""A scripted agent upstream: a real aiohttp server on 127.0.0.1 that speaks three wire formats —
OpenAI chat completions (``/v1/chat/completions``), the OpenAI Responses API (``/v1/responses``)
and the Anthropic Messages API (``/v1/messages``) — streamed or not — and Bedrock Converse
(``/model/{id}/converse``, not streamed).

It plays the model side of a tool-using conversation, decided from each request alone:

- the conversation ends with a tool result → a final text that quotes the result
  (``"Done: <result>"``), so a test can see the tool really ran;
- tools are offered and one of ``calls`` names one of them → a call to it with its arguments;
- otherwise → a short text (``"echo: <last user text>"``).

Usage carries cached tokens (and cache writes for Anthropic), so cached-token reporting shows.
Every request is kept in ``received`` as ``(path, headers, body)``.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

CACHED = 3
CACHE_WRITE = 2


@dataclass
class Decision:
    kind: str  # "text" | "call"
    text: str = ""
    name: str = ""
    arguments: str = "{}"


@dataclass
class AgentUpstream:
    """``calls``: tool name → the arguments (a dict) to call it with, in order of preference."""

    calls: dict[str, dict[str, Any]] = field(default_factory=dict)
    received: list[tuple[str, dict[str, str], dict[str, Any]]] = field(default_factory=list)
    port: int = 0
    _runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return self.url + "/v1"

    def bodies(self, suffix: str) -> list[dict[str, Any]]:
        return [body for path, _, body in self.received if path.endswith(suffix)]

    async def start(self) -> AgentUpstream:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_post("/v1/responses", self._responses)
        app.router.add_post("/v1/messages", self._messages)
        app.router.add_post("/v1/messages/count_tokens", self._count_tokens)
        app.router.add_post("/model/{model}/converse", self._converse)
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

    async def _read(self, request: web.Request) -> dict[str, Any]:
        body = json.loads(await request.read() or b"{}")
        self.received.append((request.path, {k.lower(): v for k, v in request.headers.items()}, body))
        return body

    def decide(self, tools: list[str], tool_result: str | None, last_text: str) -> Decision:
        if tool_result is not None:
            return Decision("text", text=f"Done: {tool_result.strip()}")
        for name, arguments in self.calls.items():
            if name in tools:
                return Decision("call", name=name, arguments=json.dumps(arguments))
        return Decision("text", text="echo: " + last_text[:200])

    # -- OpenAI chat completions -----------------------------------------------------------

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        body = await self._read(request)
        messages = body.get("messages") or []
        tools = [(t.get("function") or {}).get("name", "") for t in body.get("tools") or ()]
        last = messages[-1] if messages else {}
        result = _text(last.get("content")) if last.get("role") == "tool" else None
        user = next((_text(m.get("content")) for m in reversed(messages) if m.get("role") == "user"), "")
        decision = self.decide(tools, result, user)
        usage = {
            "prompt_tokens": 20,
            "completion_tokens": 5,
            "total_tokens": 25,
            "prompt_tokens_details": {"cached_tokens": CACHED},
        }
        message: dict[str, Any] = {"role": "assistant", "content": decision.text or None}
        finish = "stop"
        call = {"id": "call_fake_1", "type": "function", "function": {"name": decision.name, "arguments": ""}}
        if decision.kind == "call":
            message["tool_calls"] = [{**call, "function": {"name": decision.name, "arguments": decision.arguments}}]
            finish = "tool_calls"
        if not body.get("stream"):
            reply = {
                "id": "chatcmpl-agent",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body.get("model"),
                "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": None}],
                "usage": usage,
            }
            return web.json_response(reply)

        def chunk(delta: dict[str, Any] | None, finish_reason: str | None = None) -> dict[str, Any]:
            return {
                "id": "chatcmpl-agent",
                "object": "chat.completion.chunk",
                "created": int(time.time()),
                "model": body.get("model"),
                "choices": [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
            }

        events: list[dict[str, Any]] = [chunk({"role": "assistant", "content": ""})]
        if decision.kind == "call":
            events.append(chunk({"tool_calls": [{"index": 0, **call}]}))
            half = len(decision.arguments) // 2
            for piece in (decision.arguments[:half], decision.arguments[half:]):
                events.append(chunk({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}))
        else:
            events += [chunk({"content": piece}) for piece in _halves(decision.text)]
        events.append(chunk({}, finish))
        if (body.get("stream_options") or {}).get("include_usage"):
            events.append({**chunk(None), "usage": usage})
        return await _sse(request, [("", e) for e in events], done=True)

    # -- OpenAI Responses API --------------------------------------------------------------

    async def _responses(self, request: web.Request) -> web.StreamResponse:
        body = await self._read(request)
        items = body.get("input")
        items = [{"role": "user", "content": items}] if isinstance(items, str) else items or []
        tools = [t.get("name", "") for t in body.get("tools") or () if isinstance(t, dict)]
        last = items[-1] if items else {}
        result = str(_text(last.get("output"))) if last.get("type") == "function_call_output" else None
        user = next((_text(i.get("content")) for i in reversed(items) if i.get("role") == "user"), "")
        decision = self.decide(tools, result, user)
        if decision.kind == "call":
            item: dict[str, Any] = {
                "id": "fc_fake_1",
                "type": "function_call",
                "status": "completed",
                "call_id": "call_fake_1",
                "name": decision.name,
                "arguments": decision.arguments,
            }
        else:
            part = {"type": "output_text", "text": decision.text, "annotations": []}
            item = {
                "id": "msg_fake_1",
                "type": "message",
                "status": "completed",
                "role": "assistant",
                "content": [part],
            }
        usage = {
            "input_tokens": 20,
            "input_tokens_details": {"cached_tokens": CACHED},
            "output_tokens": 5,
            "output_tokens_details": {"reasoning_tokens": 1},
            "total_tokens": 25,
        }

        def response(status: str, output: list[dict[str, Any]], with_usage: bool) -> dict[str, Any]:
            return {
                "id": "resp_upstream_1",
                "object": "response",
                "created_at": int(time.time()),
                "status": status,
                "error": None,
                "incomplete_details": None,
                "instructions": body.get("instructions"),
                "model": body.get("model"),
                "output": output,
                "parallel_tool_calls": True,
                "tool_choice": body.get("tool_choice", "auto"),
                "tools": body.get("tools") or [],
                "usage": usage if with_usage else None,
            }

        if not body.get("stream"):
            return web.json_response(response("completed", [item], True))
        seq = iter(range(1000))
        events: list[dict[str, Any]] = []

        def add(kind: str, **data: Any) -> None:
            events.append({"type": kind, "sequence_number": next(seq), **data})

        add("response.created", response=response("in_progress", [], False))
        add("response.in_progress", response=response("in_progress", [], False))
        if decision.kind == "call":
            add("response.output_item.added", output_index=0, item={**item, "arguments": "", "status": "in_progress"})
            for piece in _halves(decision.arguments):
                add("response.function_call_arguments.delta", item_id=item["id"], output_index=0, delta=piece)
            add(
                "response.function_call_arguments.done",
                item_id=item["id"],
                output_index=0,
                arguments=decision.arguments,
            )
        else:
            add("response.output_item.added", output_index=0, item={**item, "content": [], "status": "in_progress"})
            empty = {"type": "output_text", "text": "", "annotations": []}
            add("response.content_part.added", item_id=item["id"], output_index=0, content_index=0, part=empty)
            for piece in _halves(decision.text):
                add(
                    "response.output_text.delta",
                    item_id=item["id"],
                    output_index=0,
                    content_index=0,
                    delta=piece,
                    logprobs=[],
                )
            add("response.output_text.done", item_id=item["id"], output_index=0, content_index=0, text=decision.text)
            add(
                "response.content_part.done",
                item_id=item["id"],
                output_index=0,
                content_index=0,
                part=item["content"][0],
            )
        add("response.output_item.done", output_index=0, item=item)
        add("response.completed", response=response("completed", [item], True))
        return await _sse(request, [(e["type"], e) for e in events], done=False)

    # -- Anthropic Messages ----------------------------------------------------------------

    async def _count_tokens(self, request: web.Request) -> web.Response:
        await self._read(request)
        return web.json_response({"input_tokens": 42})

    async def _messages(self, request: web.Request) -> web.StreamResponse:
        body = await self._read(request)
        messages = body.get("messages") or []
        tools = [t.get("name", "") for t in body.get("tools") or ()]
        last = messages[-1] if messages else {}
        result = None
        if last.get("role") == "user" and isinstance(last.get("content"), list):
            results = [b for b in last["content"] if isinstance(b, dict) and b.get("type") == "tool_result"]
            if results:
                result = _text(results[-1].get("content"))
        user = next((_text(m.get("content")) for m in reversed(messages) if m.get("role") == "user"), "")
        decision = self.decide(tools, result, user)
        usage = {
            "input_tokens": 20,
            "output_tokens": 5,
            "cache_read_input_tokens": CACHED,
            "cache_creation_input_tokens": CACHE_WRITE,
        }
        if decision.kind == "call":
            block: dict[str, Any] = {
                "type": "tool_use",
                "id": "toolu_fake_1",
                "name": decision.name,
                "input": json.loads(decision.arguments),
            }
            stop = "tool_use"
        else:
            block = {"type": "text", "text": decision.text}
            stop = "end_turn"
        message = {
            "id": "msg_fake_1",
            "type": "message",
            "role": "assistant",
            "model": body.get("model"),
            "content": [block],
            "stop_reason": stop,
            "stop_sequence": None,
            "usage": usage,
        }
        if not body.get("stream"):
            return web.json_response(message)
        start = {**message, "content": [], "stop_reason": None, "usage": {**usage, "output_tokens": 1}}
        events: list[tuple[str, dict[str, Any]]] = [("message_start", {"type": "message_start", "message": start})]
        if decision.kind == "call":
            opening = {**block, "input": {}}
            deltas = [{"type": "input_json_delta", "partial_json": p} for p in _halves(decision.arguments)]
        else:
            opening = {"type": "text", "text": ""}
            deltas = [{"type": "text_delta", "text": p} for p in _halves(decision.text)]
        events.append(("content_block_start", {"type": "content_block_start", "index": 0, "content_block": opening}))
        events += [("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": d}) for d in deltas]
        events.append(("content_block_stop", {"type": "content_block_stop", "index": 0}))
        events.append(
            (
                "message_delta",
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": stop, "stop_sequence": None},
                    "usage": {"output_tokens": 5},
                },
            )
        )
        events.append(("message_stop", {"type": "message_stop"}))
        return await _sse(request, events, done=False)

    # -- Bedrock Converse -------------------------------------------------------------------

    async def _converse(self, request: web.Request) -> web.Response:
        body = await self._read(request)
        messages = body.get("messages") or []
        tools = [(t.get("toolSpec") or {}).get("name", "") for t in (body.get("toolConfig") or {}).get("tools") or ()]
        last = messages[-1] if messages else {}
        results = [b["toolResult"] for b in last.get("content") or () if isinstance(b, dict) and "toolResult" in b]
        result = _text(results[-1].get("content")) if results else None
        user = next((_text(m.get("content")) for m in reversed(messages) if m.get("role") == "user"), "")
        decision = self.decide(tools, result, user)
        if decision.kind == "call":
            block: dict[str, Any] = {
                "toolUse": {"toolUseId": "tooluse_1", "name": decision.name, "input": json.loads(decision.arguments)}
            }
            stop = "tool_use"
        else:
            block, stop = {"text": decision.text}, "end_turn"
        usage = {
            "inputTokens": 20,
            "outputTokens": 5,
            "totalTokens": 25 + CACHED + CACHE_WRITE,
            "cacheReadInputTokens": CACHED,
            "cacheWriteInputTokens": CACHE_WRITE,
        }
        reply = {"output": {"message": {"role": "assistant", "content": [block]}}, "stopReason": stop, "usage": usage}
        return web.json_response(reply)


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(
            _text(p.get("text") if isinstance(p, dict) and "text" in p else p.get("content"))
            for p in content
            if isinstance(p, dict)
        )
    return "" if content is None else str(content)


def _halves(text: str) -> list[str]:
    half = max(1, len(text) // 2)
    return [p for p in (text[:half], text[half:]) if p] or [""]


async def _sse(request: web.Request, events: list[tuple[str, dict[str, Any]]], *, done: bool) -> web.StreamResponse:
    response = web.StreamResponse(headers={"content-type": "text/event-stream"})
    await response.prepare(request)
    for name, data in events:
        prefix = f"event: {name}\n".encode() if name else b""
        await response.write(prefix + b"data: " + json.dumps(data).encode() + b"\n\n")
    if done:
        await response.write(b"data: [DONE]\n\n")
    await response.write_eof()
    return response
