"""The audio surface: /v1/audio/transcriptions, /v1/audio/translations, /v1/audio/speech.

Uploads are multipart (parsed by ``server.multipart``), checked for size, type and emptiness,
and measured (duration, for per-minute prices); then they go through the gateway's one
pipeline as an :class:`Operation`. Answers go back as the upstream gave them (JSON, text, SRT,
VTT); speech audio and streamed transcripts are relayed as they arrive.
"""

from __future__ import annotations

import io
from typing import Any

from unigate.context import Principal, RequestContext
from unigate.errors import BadRequest, PayloadTooLarge
from unigate.gateway import Gateway
from unigate.operations import Operation
from unigate.providers.media import MediaReply, StreamHead, Upload
from unigate.server.http import Request, Response, StreamingResponse
from unigate.server.multipart import Form, parse_multipart
from unigate.server.openai_api import route_headers
from unigate.server.routes import Routes
from unigate.server.services import Services
from unigate.server.validation import parse_json_object
from unigate.types import Usage

AUDIO_EXTENSIONS = ("flac", "m4a", "mp3", "mp4", "mpeg", "mpga", "oga", "ogg", "wav", "webm")
RESPONSE_FORMATS = ("json", "text", "srt", "verbose_json", "vtt")
SPEECH_FORMATS = ("mp3", "opus", "aac", "flac", "wav", "pcm")
MAX_SPEECH_CHARS = 4096


def _missing(name: str) -> BadRequest:
    return BadRequest(f"Missing required parameter: '{name}'.", param=name, code="missing_required_parameter")


def _invalid(message: str, param: str) -> BadRequest:
    return BadRequest(message, param=param, code="invalid_value")


def audio_duration(upload: Upload) -> float | None:
    """Seconds of audio in the upload, read from its container headers (None if unreadable)."""
    import mutagen

    try:
        audio = mutagen.File(io.BytesIO(upload.data))
    except Exception:
        return None
    length = getattr(getattr(audio, "info", None), "length", None)
    return float(length) if isinstance(length, int | float) and length > 0 else None


def check_audio(upload: Upload | None, limit: int) -> Upload:
    if upload is None:
        raise _missing("file")
    if not upload.data:
        raise _invalid("The uploaded file is empty.", "file")
    if len(upload.data) > limit:
        raise PayloadTooLarge(f"The audio file is larger than the limit of {limit} bytes.", param="file")
    extension = upload.filename.rsplit(".", 1)[-1].lower() if "." in upload.filename else ""
    kind = upload.content_type.split(";", 1)[0].strip().lower()
    if extension not in AUDIO_EXTENSIONS and not kind.startswith("audio/"):
        raise _invalid(
            f"Invalid file format '{extension or kind}'. Supported formats: {list(AUDIO_EXTENSIONS)}.", "file"
        )
    return upload


def transcription_request(form: Form, limit: int, translate: bool) -> dict[str, Any]:
    upload = check_audio(form.file("file"), limit)
    model = form.text("model")
    if not model:
        raise _missing("model")
    request: dict[str, Any] = {"model": model, "file": upload}
    names = (
        ("prompt", "response_format", "temperature")
        if translate
        else (
            "language",
            "prompt",
            "response_format",
            "temperature",
            "chunking_strategy",
        )
    )
    for name in names:
        value = form.text(name)
        if value is not None:
            request[name] = value
    fmt = request.get("response_format")
    if fmt is not None and fmt not in RESPONSE_FORMATS:
        raise _invalid(f"'response_format' must be one of {list(RESPONSE_FORMATS)}, got {fmt!r}.", "response_format")
    if "temperature" in request:
        try:
            temperature = float(request["temperature"])
        except ValueError:
            raise _invalid("'temperature' must be a number.", "temperature") from None
        if not 0 <= temperature <= 1:
            raise _invalid("'temperature' must be between 0 and 1.", "temperature")
    if not translate:
        granularities = form.texts("timestamp_granularities")
        for value in granularities:
            if value not in ("word", "segment"):
                raise _invalid(
                    "'timestamp_granularities' items must be 'word' or 'segment'.", "timestamp_granularities"
                )
        if granularities:
            if fmt != "verbose_json":
                raise _invalid(
                    "'timestamp_granularities' needs response_format 'verbose_json'.", "timestamp_granularities"
                )
            request["timestamp_granularities"] = granularities
        stream = (form.text("stream") or "false").lower()
        if stream not in ("true", "false"):
            raise _invalid("'stream' must be true or false.", "stream")
        if stream == "true":
            request["stream"] = True
    for name in form.fields:  # other fields the upstream may know (include[], …) pass through
        base = name.removesuffix("[]")
        if base not in request and base not in ("file", "stream", "timestamp_granularities"):
            values = form.texts(base)
            request[base] = values if name.endswith("[]") else values[-1]
    request["_duration"] = audio_duration(upload)
    return request


def speech_request(body: dict[str, Any]) -> dict[str, Any]:
    for name in ("model", "input", "voice"):
        if body.get(name) in (None, ""):
            raise _missing(name)
    if not isinstance(body["input"], str):
        raise _invalid("'input' must be a string.", "input")
    if len(body["input"]) > MAX_SPEECH_CHARS:
        raise _invalid(f"'input' is longer than {MAX_SPEECH_CHARS} characters.", "input")
    if not isinstance(body["voice"], str | dict):
        raise _invalid("'voice' must be a string.", "voice")
    fmt = body.get("response_format")
    if fmt is not None and fmt not in SPEECH_FORMATS:
        raise _invalid(f"'response_format' must be one of {list(SPEECH_FORMATS)}, got {fmt!r}.", "response_format")
    speed = body.get("speed")
    if speed is not None and (isinstance(speed, bool) or not isinstance(speed, int | float) or not 0.25 <= speed <= 4):
        raise _invalid("'speed' must be a number from 0.25 to 4.0.", "speed")
    return body


def _usage_of_reply(reply: MediaReply) -> Usage | None:
    return reply.usage


def _usage_of_head(result: tuple[StreamHead, Any]) -> Usage | None:
    return result[0].usage


TRANSCRIBE: Operation[dict[str, Any], Any] = Operation(
    "transcription", lambda p, r, d: p.transcribe(r, d), _usage_of_reply, method="transcribe", pricing="media"
)
TRANSLATE: Operation[dict[str, Any], Any] = Operation(
    "translation", lambda p, r, d: p.translate(r, d), _usage_of_reply, method="translate", pricing="media"
)
TRANSCRIBE_STREAM: Operation[dict[str, Any], Any] = Operation(
    "transcription",
    lambda p, r, d: p.transcribe_stream(r, d),
    _usage_of_head,
    method="transcribe_stream",
    pricing="media",
)
SPEECH: Operation[dict[str, Any], Any] = Operation(
    "speech", lambda p, r, d: p.speech(r, d), _usage_of_head, method="speech", pricing="media"
)


def wants_audio(request: dict[str, Any]) -> tuple[bool, bool]:
    """Whether a chat request sends audio (``input_audio`` parts) and asks for audio back."""
    modalities = request.get("modalities")
    audio_out = (isinstance(modalities, list) and "audio" in modalities) or bool(request.get("audio"))
    audio_in = False
    for message in request.get("messages") or ():
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, list) and any(
            isinstance(part, dict) and part.get("type") == "input_audio" for part in content
        ):
            audio_in = True
            break
    return audio_in, audio_out


class AudioChatCheck:
    """A RequestHook: chat with audio in or out goes only to a model that takes it. A model the
    catalog knows and lists without audio is refused with a 400 naming it; an unknown model is
    left to its upstream."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway

    async def before(self, ctx: RequestContext, request: dict[str, Any]) -> None:
        if ctx.endpoint != "chat":
            return
        audio_in, audio_out = wants_audio(request)
        if not (audio_in or audio_out):
            return
        group = self.gateway.find_group(ctx.model)
        if group is None:
            return
        for deployment in group.deployments:
            catalog = self.gateway.catalog
            if catalog.endpoints(deployment.provider, deployment.model, deployment.public_name) is None:
                return  # unknown to the catalog: the upstream decides
            media = catalog.media(deployment.provider, deployment.model)
            if media is not None and (media.audio_in or not audio_in) and (media.audio_out or not audio_out):
                return
        missing = "audio input and output" if audio_in and audio_out else "audio input" if audio_in else "audio output"
        error = BadRequest(
            f"The model '{ctx.model}' does not support {missing}.", param="model", code="model_not_supported"
        )
        ctx.error = error
        raise error

    async def after(self, ctx: RequestContext) -> None:
        return None


def register(routes: Routes, services: Services) -> None:
    gateway = services.gateway
    services.hooks.add(AudioChatCheck(gateway))  # after accounts and observability: a refusal is logged
    limit = services.config.media.max_audio_bytes
    # the body holds the file plus a few form fields
    body_limit = max(services.config.server.max_body_bytes, limit + 1024 * 1024)

    async def _audio(request: Request, principal: Principal, translate: bool) -> Response | StreamingResponse:
        form = parse_multipart(request.body, request.header(b"content-type"))
        body = transcription_request(form, limit, translate)
        request_id = request.path_params["request_id"]
        if body.get("stream"):
            head, chunks, ctx = await gateway.run_stream(TRANSCRIBE_STREAM, body, principal, request_id=request_id)
            headers = [(b"content-type", head.content_type.encode()), (b"cache-control", b"no-cache")]
            return StreamingResponse(chunks, headers=[*headers, *route_headers(ctx)])
        reply, ctx = await gateway.run(TRANSLATE if translate else TRANSCRIBE, body, principal, request_id=request_id)
        return Response(reply.body, 200, [(b"content-type", reply.content_type.encode()), *route_headers(ctx)])

    async def transcriptions(request: Request, principal: Principal) -> Response | StreamingResponse:
        return await _audio(request, principal, translate=False)

    async def translations(request: Request, principal: Principal) -> Response | StreamingResponse:
        return await _audio(request, principal, translate=True)

    async def speech(request: Request, principal: Principal) -> StreamingResponse:
        body = speech_request(parse_json_object(request.body, request.header(b"content-type")))
        head, chunks, ctx = await gateway.run_stream(
            SPEECH, body, principal, request_id=request.path_params["request_id"]
        )
        return StreamingResponse(chunks, headers=[(b"content-type", head.content_type.encode()), *route_headers(ctx)])

    for prefix in ("/v1", ""):
        routes.route("POST", f"{prefix}/audio/transcriptions", transcriptions, max_body=body_limit)
        routes.route("POST", f"{prefix}/audio/translations", translations, max_body=body_limit)
        routes.route("POST", f"{prefix}/audio/speech", speech)
