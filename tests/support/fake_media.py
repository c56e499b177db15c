"""A fake media upstream: a real aiohttp server on 127.0.0.1 speaking the wire formats of
OpenAI's audio, images, moderation endpoints, Jina/vLLM and Cohere rerank, and Gemini's image
generation (generateContent with inline images, Imagen ``:predict``).

Every request is recorded (path, headers, form fields, file bytes, JSON body) so tests can check
what the gateway sent. ``fail_next`` makes the next request answer with an error status.
"""

from __future__ import annotations

import asyncio
import base64
import json
import threading
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

# a 1x1 transparent PNG
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)
SPEECH_CHUNKS = 5
SPEECH_CHUNK = b"ID3" + bytes(range(256)) * 8  # ~2 KB of "mp3" per chunk


@dataclass
class Seen:
    path: str
    headers: dict[str, str]
    fields: dict[str, list[str]] = field(default_factory=dict)
    files: dict[str, list[tuple[str, str, bytes]]] = field(default_factory=dict)
    json: Any = None


class FakeMedia:
    def __init__(self) -> None:
        self.seen: list[Seen] = []
        self.fail_next: list[int] = []
        self.flag_moderation = False
        self.port = 0
        self._runner: web.AppRunner | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def root_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/v1/audio/transcriptions", self._transcribe)
        app.router.add_post("/v1/audio/translations", self._transcribe)
        app.router.add_post("/v1/audio/speech", self._speech)
        app.router.add_post("/openai/deployments/{deployment}/audio/transcriptions", self._transcribe)  # Azure
        app.router.add_post("/v1/images/generations", self._generate)
        app.router.add_post("/v1/images/edits", self._edit)
        app.router.add_post("/v1/moderations", self._moderate)
        app.router.add_post("/v1/rerank", self._rerank_jina)
        app.router.add_post("/v2/rerank", self._rerank_cohere)
        app.router.add_post("/v1beta/models/{model}", self._gemini)
        app.router.add_post("/model/{model}/invoke", self._bedrock_rerank)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    # -- recording ---------------------------------------------------------------------------

    async def _record(self, request: web.Request) -> Seen:
        seen = Seen(request.path, {k.lower(): v for k, v in request.headers.items()})
        if request.content_type.startswith("multipart/"):
            reader = await request.multipart()
            while True:
                part = await reader.next()
                if part is None:
                    break
                data = await part.read()  # type: ignore[union-attr]
                name = part.name or ""  # type: ignore[union-attr]
                if part.filename:  # type: ignore[union-attr]
                    ctype = part.headers.get("content-type", "")  # type: ignore[union-attr]
                    seen.files.setdefault(name, []).append((part.filename, ctype, bytes(data)))  # type: ignore[union-attr]
                else:
                    seen.fields.setdefault(name, []).append(bytes(data).decode())
        else:
            raw = await request.read()
            seen.json = json.loads(raw) if raw else None
        self.seen.append(seen)
        return seen

    def _failure(self) -> web.Response | None:
        if not self.fail_next:
            return None
        status = self.fail_next.pop(0)
        return web.json_response({"error": {"message": "fake failure", "type": "server_error"}}, status=status)

    # -- OpenAI ------------------------------------------------------------------------------

    async def _transcribe(self, request: web.Request) -> web.StreamResponse:
        seen = await self._record(request)
        failure = self._failure()
        if failure is not None:
            return failure
        name, _ctype, data = seen.files["file"][0]
        text = f"heard {len(data)} bytes of {name}"
        fmt = (seen.fields.get("response_format") or ["json"])[0]
        if (seen.fields.get("stream") or ["false"])[0] == "true":
            response = web.StreamResponse(headers={"content-type": "text/event-stream"})
            await response.prepare(request)
            for word in text.split(" "):
                event = {"type": "transcript.text.delta", "delta": word + " "}
                await response.write(b"data: " + json.dumps(event).encode() + b"\n\n")
            done = {
                "type": "transcript.text.done",
                "text": text,
                "usage": {"type": "tokens", "input_tokens": 20, "output_tokens": 6, "total_tokens": 26},
            }
            await response.write(b"data: " + json.dumps(done).encode() + b"\n\n")
            await response.write_eof()
            return response
        if fmt == "text":
            return web.Response(text=text + "\n", content_type="text/plain")
        if fmt == "srt":
            return web.Response(text=f"1\n00:00:00,000 --> 00:00:01,000\n{text}\n", content_type="text/plain")
        if fmt == "vtt":
            return web.Response(text=f"WEBVTT\n\n00:00.000 --> 00:01.000\n{text}\n", content_type="text/plain")
        if fmt == "verbose_json":
            body: dict[str, Any] = {"task": "transcribe", "language": "english", "duration": 1.5, "text": text}
            if seen.fields.get("timestamp_granularities[]"):
                body["words"] = [{"word": w, "start": 0.0, "end": 0.5} for w in text.split(" ")]
            return web.json_response(body)
        return web.json_response({"text": text})

    async def _speech(self, request: web.Request) -> web.StreamResponse:
        await self._record(request)
        failure = self._failure()
        if failure is not None:
            return failure
        response = web.StreamResponse(headers={"content-type": "audio/mpeg"})
        await response.prepare(request)
        for _ in range(SPEECH_CHUNKS):
            await response.write(SPEECH_CHUNK)
            await asyncio.sleep(0.01)
        await response.write_eof()
        return response

    def _images(self, n: int, fmt: str | None) -> dict[str, Any]:
        if fmt == "url":
            data = [{"url": f"{self.root_url}/fake-image-{i}.png"} for i in range(n)]
        else:
            data = [{"b64_json": base64.b64encode(PNG).decode(), "revised_prompt": "a dot"} for _ in range(n)]
        return {"created": 1, "data": data}

    async def _generate(self, request: web.Request) -> web.Response:
        seen = await self._record(request)
        failure = self._failure()
        if failure is not None:
            return failure
        body = seen.json or {}
        return web.json_response(self._images(int(body.get("n") or 1), body.get("response_format")))

    async def _edit(self, request: web.Request) -> web.Response:
        seen = await self._record(request)
        failure = self._failure()
        if failure is not None:
            return failure
        n = int((seen.fields.get("n") or ["1"])[0])
        return web.json_response(self._images(n, (seen.fields.get("response_format") or [None])[0]))

    async def _moderate(self, request: web.Request) -> web.Response:
        seen = await self._record(request)
        inputs = seen.json["input"] if isinstance(seen.json["input"], list) else [seen.json["input"]]
        results = []
        for text in inputs:
            hit = self.flag_moderation or "attack" in str(text)
            results.append(
                {
                    "flagged": hit,
                    "categories": {"violence": hit, "harassment": False},
                    "category_scores": {"violence": 0.9 if hit else 0.01, "harassment": 0.01},
                }
            )
        return web.json_response({"id": "modr-fake", "model": seen.json.get("model"), "results": results})

    # -- rerank ------------------------------------------------------------------------------

    @staticmethod
    def _scores(query: str, documents: list[Any]) -> list[dict[str, Any]]:
        words = set(query.lower().split())
        out = []
        for i, doc in enumerate(documents):
            text = doc if isinstance(doc, str) else doc.get("text", "")
            overlap = len(words & set(text.lower().split()))
            out.append({"index": i, "relevance_score": round(overlap / (len(words) or 1), 4)})
        return out

    async def _rerank_jina(self, request: web.Request) -> web.Response:
        seen = await self._record(request)
        body = seen.json
        results = sorted(self._scores(body["query"], body["documents"]), key=lambda r: -r["relevance_score"])
        if body.get("top_n"):
            results = results[: body["top_n"]]
        return web.json_response({"model": body["model"], "usage": {"total_tokens": 42}, "results": results})

    async def _rerank_cohere(self, request: web.Request) -> web.Response:
        seen = await self._record(request)
        body = seen.json
        results = sorted(self._scores(body["query"], body["documents"]), key=lambda r: -r["relevance_score"])
        return web.json_response(
            {"id": "rr", "results": results[: body.get("top_n") or None], "meta": {"billed_units": {"search_units": 1}}}
        )

    async def _bedrock_rerank(self, request: web.Request) -> web.Response:
        seen = await self._record(request)
        body = seen.json
        results = sorted(self._scores(body["query"], body["documents"]), key=lambda r: -r["relevance_score"])
        return web.json_response({"results": results[: body.get("top_n") or None]})

    # -- Gemini ------------------------------------------------------------------------------

    async def _gemini(self, request: web.Request) -> web.Response:
        seen = await self._record(request)
        model, _, method = request.match_info["model"].partition(":")
        b64 = base64.b64encode(PNG).decode()
        if method == "predict":
            count = int(seen.json["parameters"].get("sampleCount") or 1)
            return web.json_response({"predictions": [{"bytesBase64Encoded": b64, "mimeType": "image/png"}] * count})
        parts = seen.json["contents"][0]["parts"]
        if any("inlineData" in p and p["inlineData"]["mimeType"].startswith("audio/") for p in parts):
            return web.json_response(
                {
                    "candidates": [
                        {"content": {"role": "model", "parts": [{"text": "gemini heard you"}]}, "finishReason": "STOP"}
                    ],
                    "usageMetadata": {"promptTokenCount": 50, "candidatesTokenCount": 3, "totalTokenCount": 53},
                }
            )
        return web.json_response(
            {
                "candidates": [
                    {"content": {"role": "model", "parts": [{"inlineData": {"mimeType": "image/png", "data": b64}}]}}
                ],
                "usageMetadata": {"promptTokenCount": 7, "candidatesTokenCount": 1290, "totalTokenCount": 1297},
                "modelVersion": model,
            }
        )


class ThreadedMedia:
    """FakeMedia on its own loop in a daemon thread (the openai SDK and the gateway are blocking)."""

    def __init__(self) -> None:
        self.fake = FakeMedia()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.fake.start(), self._loop).result(10)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.fake, name)

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.fake.stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
