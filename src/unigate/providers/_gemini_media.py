"""Images and transcription on Gemini, natively.

- Image generation: Gemini image models through ``generateContent`` with
  ``responseModalities: ["IMAGE"]`` (answer parts carry ``inlineData``); Imagen models through
  ``:predict`` (``instances[].prompt``, ``parameters.sampleCount``; answers carry
  ``bytesBase64Encoded``). Both come back in OpenAI's images shape, always as base64.
- Image edits: the source image (and mask) as ``inlineData`` parts before the prompt.
- Transcription and translation: the audio as an ``input_audio`` chat part with an instruction,
  through the Gemini chat translator; the answer is rendered in the requested response_format.
"""

from __future__ import annotations

import asyncio
import base64
import time
from typing import Any

import orjson

from unigate.errors import BadRequest, ProviderError, UpstreamServerError
from unigate.providers.media import MediaReply, Upload
from unigate.providers.shell import Call, join_url, segment
from unigate.types import Deployment

DEFAULT_BASE = "https://generativelanguage.googleapis.com"

# OpenAI sizes → Gemini/Imagen aspect ratios
_ASPECT = {
    "1024x1024": "1:1",
    "512x512": "1:1",
    "256x256": "1:1",
    "1792x1024": "16:9",
    "1024x1792": "9:16",
    "1536x1024": "3:2",
    "1024x1536": "2:3",
}
_AUDIO_FORMATS = {
    "wav": "wav",
    "mp3": "mp3",
    "mpeg": "mp3",
    "x-wav": "wav",
    "wave": "wav",
    "flac": "flac",
    "ogg": "ogg",
}


def model_url(deployment: Deployment, method: str) -> str:
    return join_url(deployment.api_base or DEFAULT_BASE, f"v1beta/models/{segment(deployment.model)}:{method}")


def image_request(prompt: str, size: str | None, images: list[Upload]) -> dict[str, Any]:
    parts: list[dict[str, Any]] = [
        {"inlineData": {"mimeType": image.content_type or "image/png", "data": base64.b64encode(image.data).decode()}}
        for image in images
    ]
    parts.append({"text": prompt})
    config: dict[str, Any] = {"responseModalities": ["IMAGE"]}
    if size in _ASPECT:
        config["imageConfig"] = {"aspectRatio": _ASPECT[size]}
    return {"contents": [{"role": "user", "parts": parts}], "generationConfig": config}


def images_from_content(body: Any) -> tuple[list[dict[str, Any]], str | None]:
    """The inline images of a generateContent answer, and any text it gave instead."""
    images: list[dict[str, Any]] = []
    text: list[str] = []
    for candidate in (body or {}).get("candidates") or ():
        for part in (candidate.get("content") or {}).get("parts") or ():
            inline = part.get("inlineData") or part.get("inline_data")
            if isinstance(inline, dict) and inline.get("data"):
                images.append({"b64_json": inline["data"]})
            elif isinstance(part.get("text"), str):
                text.append(part["text"])
    return images, "".join(text) or None


def imagen_request(prompt: str, n: int, size: str | None) -> dict[str, Any]:
    parameters: dict[str, Any] = {"sampleCount": n}
    if size in _ASPECT:
        parameters["aspectRatio"] = _ASPECT[size]
    return {"instances": [{"prompt": prompt}], "parameters": parameters}


def images_from_predict(body: Any) -> list[dict[str, Any]]:
    return [
        {"b64_json": p["bytesBase64Encoded"]}
        for p in (body or {}).get("predictions") or ()
        if isinstance(p, dict) and p.get("bytesBase64Encoded")
    ]


def transcription_chat(request: dict[str, Any], deployment: Deployment, translate: bool) -> dict[str, Any]:
    upload: Upload = request["file"]
    subtype = (upload.content_type or "audio/wav").split("/", 1)[-1].lower()
    if subtype not in _AUDIO_FORMATS and "." in upload.filename:
        subtype = upload.filename.rsplit(".", 1)[-1].lower()
    audio_format = _AUDIO_FORMATS.get(subtype, "wav")
    if translate:
        instruction = "Translate the speech in this audio into English. Answer with the English text only."
    else:
        instruction = "Transcribe the speech in this audio verbatim. Answer with the transcript only."
        if request.get("language"):
            instruction += f" The audio is in the language with ISO-639-1 code '{request['language']}'."
    if request.get("prompt"):
        instruction += f" Context and spelling hints: {request['prompt']}"
    content = [
        {"type": "text", "text": instruction},
        {
            "type": "input_audio",
            "input_audio": {"data": base64.b64encode(upload.data).decode(), "format": audio_format},
        },
    ]
    return {"model": deployment.public_name, "messages": [{"role": "user", "content": content}], "temperature": 0}


def render_transcript(text: str, request: dict[str, Any], translate: bool) -> MediaReply:
    fmt = request.get("response_format") or "json"
    if fmt == "text":
        return MediaReply(text.encode(), "text/plain; charset=utf-8")
    if fmt == "json":
        return MediaReply(orjson.dumps({"text": text}), "application/json")
    if fmt == "verbose_json":
        body = {
            "task": "translate" if translate else "transcribe",
            "language": "english" if translate else (request.get("language") or "unknown"),
            "duration": request.get("_duration"),
            "text": text,
        }
        return MediaReply(orjson.dumps(body), "application/json")
    raise BadRequest(
        f"response_format '{fmt}' needs segment timestamps, which this model does not give; use json, text or verbose_json.",
        param="response_format",
        code="unsupported_value",
    )


class GeminiMediaMixin:
    """Mixed into ``GeminiProvider``; uses its ``_headers``, ``chat`` and the shell's ``post``."""

    name: str
    http: Any

    def _headers(self, deployment: Deployment) -> dict[str, str]:
        raise NotImplementedError

    def _parse_error(self, status: int, raw: bytes, headers: Any) -> ProviderError:
        raise NotImplementedError

    async def chat(self, request: Any, deployment: Deployment) -> Any:
        raise NotImplementedError

    async def post(self, call: Call, deployment: Deployment) -> Any:
        raise NotImplementedError  # the shell's (unigate.providers.shell.HttpProvider)

    async def _post(self, deployment: Deployment, method: str, body: dict[str, Any]) -> Any:
        call = Call(model_url(deployment, method), orjson.dumps(body), self._headers(deployment))
        return await self.post(call, deployment)

    async def _images(self, request: dict[str, Any], deployment: Deployment, sources: list[Upload]) -> dict[str, Any]:
        n = int(request.get("n") or 1)
        size = request.get("size")
        prompt = str(request.get("prompt") or "")
        if deployment.model.startswith("imagen"):
            if sources:
                raise BadRequest(f"model '{deployment.public_name}' cannot edit images", param="model")
            data = images_from_predict(await self._post(deployment, "predict", imagen_request(prompt, n, size)))
            usage = None
        else:
            # one image per call: Gemini image models answer one candidate
            replies = await asyncio.gather(
                *(self._post(deployment, "generateContent", image_request(prompt, size, sources)) for _ in range(n))
            )
            data, usage = [], {"input_tokens": 0, "output_tokens": 0}
            for reply in replies:
                images, text = images_from_content(reply)
                if not images and text:
                    images = []
                data.extend(images)
                meta = reply.get("usageMetadata") or {}
                usage["input_tokens"] += int(meta.get("promptTokenCount") or 0)
                usage["output_tokens"] += int(meta.get("candidatesTokenCount") or 0)
        if not data:
            raise UpstreamServerError(f"{self.name}: the answer holds no image", provider=self.name, status=502)
        body: dict[str, Any] = {"created": int(time.time()), "data": data}
        if usage is not None:
            body["usage"] = usage
        return body

    async def generate_images(self, request: dict[str, Any], deployment: Deployment) -> dict[str, Any]:
        return await self._images(request, deployment, [])

    async def edit_images(self, request: dict[str, Any], deployment: Deployment) -> dict[str, Any]:
        image = request.get("image")
        sources = image if isinstance(image, list) else [image]
        if request.get("mask") is not None:
            sources = [*sources, request["mask"]]
        return await self._images(request, deployment, [s for s in sources if isinstance(s, Upload)])

    async def _transcript(self, request: dict[str, Any], deployment: Deployment, translate: bool) -> MediaReply:
        fmt = request.get("response_format") or "json"
        if fmt in ("srt", "vtt"):
            render_transcript("", {"response_format": fmt}, translate)  # raises the clear 400
        answer = await self.chat(transcription_chat(request, deployment, translate), deployment)
        message = ((answer.get("choices") or [{}])[0]).get("message") or {}
        reply = render_transcript(str(message.get("content") or "").strip(), request, translate)
        reply.usage = answer.get("usage")
        return reply

    async def transcribe(self, request: dict[str, Any], deployment: Deployment) -> MediaReply:
        return await self._transcript(request, deployment, translate=False)

    async def translate(self, request: dict[str, Any], deployment: Deployment) -> MediaReply:
        return await self._transcript(request, deployment, translate=True)
