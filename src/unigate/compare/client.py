"""Where compare sends requests: a running gateway over HTTP, or a Gateway in this process.

Both stream the answer (with ``include_usage``) and time it from the caller's side: TTFT is
the first chunk with content, latency the end of the stream. Cost is the gateway's
``usage.cost`` (from the catalog prices), the same number the ledger records.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Protocol

import aiohttp
import orjson

from unigate.errors import GatewayError
from unigate.providers.shell import iter_sse


@dataclass(slots=True)
class Call:
    """One answer, as measured by the client."""

    model: str
    case_id: str
    text: str = ""
    ttft_ms: float | None = None
    latency_ms: float = 0.0
    input_tokens: int | None = None
    output_tokens: int | None = None
    cost: float | None = None
    request_id: str | None = None
    deployment: str | None = None
    error: str | None = None
    score: float | None = None
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def tokens_per_second(self) -> float | None:
        if not self.output_tokens or self.latency_ms <= 0:
            return None
        generation = self.latency_ms - (self.ttft_ms or 0.0)
        seconds = (generation if generation > 1.0 else self.latency_ms) / 1e3
        return self.output_tokens / seconds


class Transport(Protocol):
    async def chat(self, model: str, case_id: str, body: dict[str, Any]) -> Call: ...

    async def aclose(self) -> None: ...


def _content(chunk: dict[str, Any]) -> str:
    parts = []
    for choice in chunk.get("choices") or ():
        delta = choice.get("delta") or {}
        if delta.get("content"):
            parts.append(delta["content"])
    return "".join(parts)


class _Measure:
    """One streamed answer as it arrives: text, time to first token, usage, total latency."""

    def __init__(self, call: Call) -> None:
        self.call = call
        self.started = time.perf_counter()
        self.parts: list[str] = []
        self.usage: dict[str, Any] | None = None

    def add(self, chunk: dict[str, Any]) -> None:
        text = _content(chunk)
        if text:
            if self.call.ttft_ms is None:
                self.call.ttft_ms = (time.perf_counter() - self.started) * 1e3
            self.parts.append(text)
        if chunk.get("usage"):
            self.usage = chunk["usage"]

    def close(self) -> None:
        call, usage = self.call, self.usage
        call.latency_ms = (time.perf_counter() - self.started) * 1e3
        call.text = "".join(self.parts)
        if usage:
            call.input_tokens = usage.get("prompt_tokens")
            call.output_tokens = usage.get("completion_tokens")
            cost = usage.get("cost")
            call.cost = float(cost) if cost is not None else None


class HttpTransport:
    """A running gateway: ``POST {url}/v1/chat/completions`` with ``stream: true``."""

    def __init__(self, url: str, key: str | None, timeout: float = 600.0) -> None:
        base = url.rstrip("/")
        self.endpoint = (base if base.endswith("/v1") else base + "/v1") + "/chat/completions"
        headers = {"content-type": "application/json"}
        if key:
            headers["authorization"] = f"Bearer {key}"
        self._session = aiohttp.ClientSession(headers=headers, timeout=aiohttp.ClientTimeout(total=timeout))

    async def chat(self, model: str, case_id: str, body: dict[str, Any]) -> Call:
        call = Call(model, case_id)
        payload = {**body, "model": model, "stream": True, "stream_options": {"include_usage": True}}
        measure = _Measure(call)
        try:
            async with self._session.post(self.endpoint, data=orjson.dumps(payload)) as response:
                call.request_id = response.headers.get("x-request-id")
                call.deployment = response.headers.get("x-unigate-deployment")
                if response.status != 200:
                    raw = await response.read()
                    try:
                        message = orjson.loads(raw)["error"]["message"]
                    except Exception:
                        message = raw[:200].decode(errors="replace")
                    call.error = f"HTTP {response.status}: {message}"
                    return call
                async for _event, data in iter_sse(response.content.iter_any(), "gateway"):
                    if data == b"[DONE]":
                        continue
                    chunk = orjson.loads(data)
                    if "error" in chunk:
                        call.error = str(chunk["error"].get("message", chunk["error"]))
                    measure.add(chunk)
        except (aiohttp.ClientError, TimeoutError, GatewayError) as exc:
            call.error = f"{type(exc).__name__}: {exc}"
        finally:
            measure.close()
        return call

    async def aclose(self) -> None:
        await self._session.close()


class InProcessTransport:
    """A Gateway in this process (``--config``): same measurements, no HTTP hop."""

    def __init__(self, gateway: Any) -> None:
        self.gateway = gateway

    async def chat(self, model: str, case_id: str, body: dict[str, Any]) -> Call:
        call = Call(model, case_id)
        payload = {**body, "model": model, "stream": True, "stream_options": {"include_usage": True}}
        measure = _Measure(call)
        try:
            result = await self.gateway.chat_stream(payload)
            call.request_id = result.context.request_id
            async for chunk in result.chunks:
                measure.add(chunk)
            deployment = result.context.trace.deployment
            call.deployment = deployment.id if deployment is not None else None
        except GatewayError as exc:
            call.error = f"{type(exc).__name__}: {exc.message}"
        finally:
            measure.close()
        return call

    async def aclose(self) -> None:
        await self.gateway.aclose()
