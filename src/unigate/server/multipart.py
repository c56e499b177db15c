"""multipart/form-data request bodies (audio and image uploads), parsed by ``python-multipart``.

The body is already in memory and size-limited by the server; this turns it into text fields
and :class:`Upload` files, and reports a malformed or mistyped body as an OpenAI-shaped 4xx.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import Field, File, create_form_parser

from unigate.errors import BadRequest
from unigate.providers.media import Upload
from unigate.server.validation import UnsupportedMediaType

# Field names, file names and part content types go into the upstream request's part headers.
# Every provider's form fields are ASCII parameter names (``model``, ``timestamp_granularities[]``),
# so a field name is one of those or the client's 400; file names may be any text but a control
# character (header injection).
_FIELD_NAME = re.compile(r"[A-Za-z0-9_.\-\[\]]{1,64}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")  # C0, DEL and C1
_PARSER_CONFIG = {"MAX_MEMORY_FILE_SIZE": float("inf"), "MAX_FIELDS": 1000, "MAX_FIELD_SIZE": 1024 * 1024}


@dataclass(slots=True)
class Form:
    fields: dict[str, list[str]] = field(default_factory=dict)
    files: dict[str, list[Upload]] = field(default_factory=dict)

    def text(self, name: str) -> str | None:
        values = self.fields.get(name) or self.fields.get(name + "[]")
        return values[-1] if values else None

    def texts(self, name: str) -> list[str]:
        return [*self.fields.get(name, ()), *self.fields.get(name + "[]", ())]

    def file(self, name: str) -> Upload | None:
        uploads = self.uploads(name)
        return uploads[0] if uploads else None

    def uploads(self, name: str) -> list[Upload]:
        return [*self.files.get(name, ()), *self.files.get(name + "[]", ())]


def parse_multipart(body: bytes, content_type: bytes | None) -> Form:
    if content_type is None or not content_type.lower().startswith(b"multipart/form-data"):
        got = content_type.decode("latin-1") if content_type else "none"
        raise UnsupportedMediaType(f"Content-Type must be multipart/form-data, got {got!r}.")
    if b"boundary=" not in content_type.lower():
        raise BadRequest("The multipart Content-Type has no boundary.", code="invalid_multipart")
    if not body:
        raise BadRequest("The request body is empty; expected a multipart form.", code="invalid_multipart")
    form = Form()

    def on_field(item: Field) -> None:
        name = (item.field_name or b"").decode("utf-8", "replace")
        value = (item.value or b"").decode("utf-8", "replace")
        form.fields.setdefault(name, []).append(value)

    def on_file(item: File) -> None:
        name = (item.field_name or b"").decode("utf-8", "replace")
        item.file_object.seek(0)
        data = item.file_object.read()
        filename = (item.file_name or b"upload").decode("utf-8", "replace")
        upload = Upload(filename, item.content_type or "application/octet-stream", data)
        form.files.setdefault(name, []).append(upload)

    try:
        parser = create_form_parser({"Content-Type": content_type}, on_field, on_file, config=_PARSER_CONFIG)
        parser.write(body)
        parser.finalize()
    except (FormParserError, ValueError) as exc:
        raise BadRequest(f"The multipart body could not be parsed: {exc}", code="invalid_multipart") from exc
    for name in [*form.fields, *form.files]:
        if not _FIELD_NAME.fullmatch(name):
            raise BadRequest(
                f"The form field name {name[:40]!r} is not a parameter name (letters, digits, _ . - [ ]).",
                code="invalid_multipart",
            )
    for uploads in form.files.values():
        for upload in uploads:
            if _CONTROL.search(upload.filename) or _CONTROL.search(upload.content_type):
                raise BadRequest(
                    f"The file name or content type of {upload.filename[:40]!r} holds a control character.",
                    code="invalid_multipart",
                )
    if not form.fields and not form.files:
        raise BadRequest("The multipart body holds no fields.", code="invalid_multipart")
    return form
