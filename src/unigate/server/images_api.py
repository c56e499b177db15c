"""The images surface: /v1/images/generations (JSON) and /v1/images/edits (multipart).

Answers come back in OpenAI's images shape. When the client asks for ``url`` and the upstream
gave base64 (gpt-image-1, Gemini), the gateway keeps the image in the data directory under an
unguessable name and answers with a URL to it that works for ``media.image_url_ttl`` seconds,
as OpenAI's own image URLs do.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import os
import secrets
import time
from pathlib import Path
from typing import Any

from unigate.context import Principal
from unigate.errors import BadRequest, NotFound, PayloadTooLarge
from unigate.operations import Operation
from unigate.providers.media import Upload, image_usage
from unigate.server.http import Request, Response, json_response
from unigate.server.multipart import Form, parse_multipart
from unigate.server.openai_api import route_headers
from unigate.server.routes import Routes
from unigate.server.services import Services
from unigate.server.validation import parse_json_object
from unigate.types import Usage

IMAGE_TYPES = ("image/png", "image/jpeg", "image/webp")
RESPONSE_FORMATS = ("url", "b64_json")
MAX_IMAGES = 10
_TOKEN_CHARS = frozenset("0123456789abcdef")


def _invalid(message: str, param: str) -> BadRequest:
    return BadRequest(message, param=param, code="invalid_value")


def _missing(name: str) -> BadRequest:
    return BadRequest(f"Missing required parameter: '{name}'.", param=name, code="missing_required_parameter")


def check_common(body: dict[str, Any]) -> None:
    if not body.get("model"):
        raise _missing("model")
    prompt = body.get("prompt")
    if prompt in (None, ""):
        raise _missing("prompt")
    if not isinstance(prompt, str):
        raise _invalid("'prompt' must be a string.", "prompt")
    n = body.get("n")
    if n is not None and (isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_IMAGES):
        raise _invalid(f"'n' must be an integer from 1 to {MAX_IMAGES}.", "n")
    fmt = body.get("response_format")
    if fmt is not None and fmt not in RESPONSE_FORMATS:
        raise _invalid(f"'response_format' must be 'url' or 'b64_json', got {fmt!r}.", "response_format")
    for name in ("size", "quality", "style"):
        if body.get(name) is not None and not isinstance(body[name], str):
            raise _invalid(f"'{name}' must be a string.", name)


def check_image(upload: Upload, name: str, limit: int) -> Upload:
    if not upload.data:
        raise _invalid(f"The uploaded '{name}' is empty.", name)
    if len(upload.data) > limit:
        raise PayloadTooLarge(f"The uploaded '{name}' is larger than the limit of {limit} bytes.", param=name)
    kind = upload.content_type.split(";", 1)[0].strip().lower()
    extension = upload.filename.rsplit(".", 1)[-1].lower() if "." in upload.filename else ""
    if kind not in IMAGE_TYPES and extension not in ("png", "jpg", "jpeg", "webp"):
        raise _invalid(f"'{name}' must be a PNG, JPEG or WebP image, got {kind!r}.", name)
    return upload


def edit_request(form: Form, limit: int) -> dict[str, Any]:
    images = form.uploads("image")
    if not images:
        raise _missing("image")
    body: dict[str, Any] = {"image": [check_image(u, "image", limit) for u in images]}
    if len(images) == 1 and not form.files.get("image[]"):
        body["image"] = body["image"][0]
    mask = form.file("mask")
    if mask is not None:
        body["mask"] = check_image(mask, "mask", limit)
    for name, values in form.fields.items():
        body[name.removesuffix("[]")] = values[-1]
    if "n" in body:
        try:
            body["n"] = int(body["n"])
        except ValueError:
            raise _invalid("'n' must be an integer.", "n") from None
    check_common(body)
    return body


class ImageStore:
    """Base64 images kept on disk for ``url`` answers, each under a 128-bit random name."""

    def __init__(self, directory: Path, ttl: float) -> None:
        self.directory = directory
        self.ttl = ttl

    def put(self, b64: str) -> str:
        try:
            data = base64.b64decode(b64, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise BadRequest("the upstream returned an image that is not valid base64") from exc
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        token = secrets.token_hex(16)
        path = self.directory / f"{token}.png"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        self._sweep()
        return token

    def get(self, token: str) -> bytes:
        if len(token) != 32 or not set(token) <= _TOKEN_CHARS:
            raise NotFound("No such image.")
        path = self.directory / f"{token}.png"
        try:
            if path.stat().st_mtime + self.ttl < time.time():
                path.unlink(missing_ok=True)
                raise NotFound("This image has expired.")
            return path.read_bytes()
        except FileNotFoundError:
            raise NotFound("No such image.") from None

    def _sweep(self) -> None:
        cutoff = time.time() - self.ttl
        for path in self.directory.glob("*.png"):
            try:
                if path.stat().st_mtime < cutoff:
                    path.unlink(missing_ok=True)
            except OSError:
                continue


def _image_media_type(data: bytes) -> bytes:
    if data.startswith(b"\xff\xd8"):
        return b"image/jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return b"image/webp"
    return b"image/png"


GENERATE: Operation[dict[str, Any], Any] = Operation(
    "image_generation",
    lambda p, r, d: p.generate_images(r, d),
    lambda result: result[1],
    method="generate_images",
    pricing="media",
)
EDIT: Operation[dict[str, Any], Any] = Operation(
    "image_edit", lambda p, r, d: p.edit_images(r, d), lambda result: result[1], method="edit_images", pricing="media"
)


def _with_usage(call: Any) -> Any:
    async def run(provider: Any, request: dict[str, Any], deployment: Any) -> tuple[dict[str, Any], Usage]:
        reply = await call(provider, request, deployment)
        return reply, image_usage(reply, request)

    return run


def register(routes: Routes, services: Services) -> None:
    gateway = services.gateway
    media = services.config.media
    store = ImageStore(Path(services.config.data_dir) / "images", media.image_url_ttl)
    limit = media.max_image_bytes
    body_limit = max(services.config.server.max_body_bytes, 2 * limit + 1024 * 1024)
    generate = dataclasses.replace(GENERATE, call=_with_usage(GENERATE.call))
    edit = dataclasses.replace(EDIT, call=_with_usage(EDIT.call))

    def finish(request: Request, body: dict[str, Any], reply: dict[str, Any]) -> dict[str, Any]:
        if body.get("response_format") == "url":
            host = request.header(b"host") or b"127.0.0.1"
            scheme = (request.header(b"x-forwarded-proto") or b"http").decode("latin-1")
            base = f"{scheme}://{host.decode('latin-1')}"
            for item in reply.get("data") or ():
                if isinstance(item, dict) and item.get("b64_json") and not item.get("url"):
                    item["url"] = f"{base}/v1/images/content/{store.put(item.pop('b64_json'))}"
        return reply

    async def generations(request: Request, principal: Principal) -> Response:
        body = parse_json_object(request.body, request.header(b"content-type"))
        check_common(body)
        (reply, _usage), ctx = await gateway.run(
            generate, body, principal, request_id=request.path_params["request_id"]
        )
        return json_response(finish(request, body, reply), headers=route_headers(ctx))

    async def edits(request: Request, principal: Principal) -> Response:
        body = edit_request(parse_multipart(request.body, request.header(b"content-type")), limit)
        (reply, _usage), ctx = await gateway.run(edit, body, principal, request_id=request.path_params["request_id"])
        return json_response(finish(request, body, reply), headers=route_headers(ctx))

    async def content(request: Request) -> Response:
        token = request.path_params["rest"].removesuffix(".png")
        data = store.get(token)
        return Response(data, 200, [(b"content-type", _image_media_type(data)), (b"cache-control", b"private")])

    for prefix in ("/v1", ""):
        routes.route("POST", f"{prefix}/images/generations", generations)
        routes.route("POST", f"{prefix}/images/edits", edits, max_body=body_limit)
    # public like OpenAI's image URLs: the 128-bit name is the secret, and it expires
    routes.route("GET", "/v1/images/content/*", content, public=True)
