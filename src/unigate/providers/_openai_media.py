"""Audio, images, moderation and rerank for the OpenAI-compatible family (OpenAI, Azure, Groq,
vLLM, Infinity, Jina, … as rows of ``openai_compat``). The requests are OpenAI's own, so the
translation is the identity with the upstream model id substituted; answers go back as they came.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson

from unigate.errors import ProviderError, UpstreamServerError
from unigate.providers.media import (
    MediaReply,
    StreamHead,
    audio_usage,
    form_data,
    rerank_documents,
    rerank_reply,
)
from unigate.providers.shell import Call, Reply, iter_sse, transport_error
from unigate.providers.upstream import Streamed
from unigate.types import Deployment

_GATEWAY_FIELDS = frozenset({"models", "route", "unigate"})


class OpenAIMediaMixin:
    """Mixed into ``OpenAICompatProvider``; uses its ``name``, ``_url``, ``_headers`` and the
    shell's ``send`` / ``open_response`` (so media calls get the same error mapping and
    credential redaction as chat)."""

    name: str

    def _url(self, deployment: Deployment, path: str) -> str:
        raise NotImplementedError

    def _headers(self, deployment: Deployment) -> dict[str, str]:
        raise NotImplementedError

    def _parse_error(self, status: int, raw: bytes, headers: Any) -> ProviderError:
        raise NotImplementedError

    # the shell's I/O (unigate.providers.shell.HttpProvider), which the provider class inherits
    async def send(self, call: Call, deployment: Deployment) -> Reply:
        raise NotImplementedError

    async def open_response(self, call: Call, deployment: Deployment) -> Streamed:
        raise NotImplementedError

    def _form_headers(self, deployment: Deployment) -> dict[str, str]:
        headers = self._headers(deployment)
        headers.pop("content-type", None)  # the form's writer sets it, with the multipart boundary
        return headers

    async def _send(self, deployment: Deployment, path: str, data: Any, headers: dict[str, str]) -> MediaReply:
        reply = await self.send(Call(self._url(deployment, path), data, headers), deployment)
        return MediaReply(reply.body, reply.content_type)

    async def _send_json(self, deployment: Deployment, path: str, body: dict[str, Any]) -> dict[str, Any]:
        payload = {k: v for k, v in body.items() if k not in _GATEWAY_FIELDS and not k.startswith("_")}
        payload["model"] = deployment.model
        reply = await self._send(deployment, path, orjson.dumps(payload), self._headers(deployment))
        try:
            parsed = orjson.loads(reply.body)
        except orjson.JSONDecodeError as exc:
            raise UpstreamServerError(
                f"{self.name}: upstream returned malformed JSON", provider=self.name, status=502, raw=reply.body[:2000]
            ) from exc
        if not isinstance(parsed, dict):
            raise UpstreamServerError(f"{self.name}: unexpected upstream answer", provider=self.name, status=502)
        return parsed

    # -- audio ---------------------------------------------------------------------------------

    async def _audio(self, request: dict[str, Any], deployment: Deployment, path: str) -> MediaReply:
        form = form_data(request, deployment.model, skip=frozenset({"stream"}))
        reply = await self._send(deployment, path, form, self._form_headers(deployment))
        body: Any = None
        if reply.content_type.startswith("application/json"):
            try:
                body = orjson.loads(reply.body)
            except orjson.JSONDecodeError:
                body = None
        reply.usage = audio_usage(body, request.get("_duration"))
        return reply

    async def transcribe(self, request: dict[str, Any], deployment: Deployment) -> MediaReply:
        return await self._audio(request, deployment, "audio/transcriptions")

    async def translate(self, request: dict[str, Any], deployment: Deployment) -> MediaReply:
        return await self._audio(request, deployment, "audio/translations")

    async def transcribe_stream(
        self, request: dict[str, Any], deployment: Deployment
    ) -> tuple[StreamHead, AsyncIterator[bytes]]:
        form = form_data(request, deployment.model)
        resp = await self._open(deployment, "audio/transcriptions", form, self._form_headers(deployment))
        head = StreamHead(resp.headers.get("content-type", "text/event-stream"))
        measured = request.get("_duration")
        head.usage = {"audio_seconds": measured} if measured is not None else None

        async def events() -> AsyncIterator[bytes]:
            try:
                async for event, data in iter_sse(resp.chunks(), self.name):
                    if b'"transcript.text.done"' in data:
                        try:
                            done = orjson.loads(data)
                        except orjson.JSONDecodeError:
                            done = None
                        head.final_usage = audio_usage(done, measured)
                    prefix = b"event: " + event.encode() + b"\n" if event else b""
                    yield prefix + b"data: " + data + b"\n\n"
            finally:
                await resp.aclose()

        return head, events()

    async def speech(self, request: dict[str, Any], deployment: Deployment) -> tuple[StreamHead, AsyncIterator[bytes]]:
        payload = {k: v for k, v in request.items() if k not in _GATEWAY_FIELDS and not k.startswith("_")}
        payload["model"] = deployment.model
        resp = await self._open(deployment, "audio/speech", orjson.dumps(payload), self._headers(deployment))
        head = StreamHead(
            resp.headers.get("content-type", "application/octet-stream"),
            usage={"characters": len(str(request.get("input") or ""))},
        )

        async def audio() -> AsyncIterator[bytes]:
            try:
                async for piece in resp.chunks():
                    yield piece
            except Exception as exc:
                raise transport_error(self.name, exc) from exc
            finally:
                await resp.aclose()

        return head, audio()

    async def _open(self, deployment: Deployment, path: str, data: Any, headers: dict[str, str]) -> Streamed:
        """POST and return the open response once its status is known (streams: the body follows)."""
        return await self.open_response(Call(self._url(deployment, path), data, headers), deployment)

    # -- images --------------------------------------------------------------------------------

    async def generate_images(self, request: dict[str, Any], deployment: Deployment) -> dict[str, Any]:
        return await self._send_json(deployment, "images/generations", request)

    async def edit_images(self, request: dict[str, Any], deployment: Deployment) -> dict[str, Any]:
        form = form_data(request, deployment.model)
        reply = await self._send(deployment, "images/edits", form, self._form_headers(deployment))
        try:
            parsed = orjson.loads(reply.body)
        except orjson.JSONDecodeError as exc:
            raise UpstreamServerError(f"{self.name}: malformed JSON", provider=self.name, status=502) from exc
        if not isinstance(parsed, dict):
            raise UpstreamServerError(f"{self.name}: unexpected upstream answer", provider=self.name, status=502)
        return parsed

    # -- moderation and rerank -----------------------------------------------------------------

    async def moderate(self, request: dict[str, Any], deployment: Deployment) -> dict[str, Any]:
        reply = await self._send_json(deployment, "moderations", request)
        reply["model"] = deployment.public_name
        return reply

    async def rerank(self, request: dict[str, Any], deployment: Deployment) -> dict[str, Any]:
        """Jina/vLLM/Infinity ``POST /rerank``: the same request shape as Cohere's."""
        body = {
            "model": deployment.model,
            "query": request["query"],
            "documents": rerank_documents(request),
        }
        if request.get("top_n") is not None:
            body["top_n"] = request["top_n"]
        reply = await self._send_json(deployment, "rerank", body)
        results = reply.get("results")
        if not isinstance(results, list):
            raise UpstreamServerError(f"{self.name}: rerank answer has no results", provider=self.name, status=502)
        return rerank_reply(results, request, deployment.public_name, reply.get("usage"))
