"""The multipart parser refuses, as the client's 400, what would reach the upstream's part headers
unsafely: field names that are not parameter names, control characters in file names."""

from __future__ import annotations

import pytest

from unigate.errors import BadRequest
from unigate.server.multipart import parse_multipart

CTYPE = b"multipart/form-data; boundary=b"


def form(*parts: bytes) -> bytes:
    return b"".join(b"--b\r\n" + part + b"\r\n" for part in parts) + b"--b--\r\n"


def field(name: bytes, value: bytes = b"v") -> bytes:
    return b'Content-Disposition: form-data; name="' + name + b'"\r\n\r\n' + value


def test_parameter_names_and_unicode_file_names_are_accepted():
    upload = 'Content-Disposition: form-data; name="file"; filename="é.wav"\r\nContent-Type: audio/wav\r\n\r\nRIFF'
    parsed = parse_multipart(form(field(b"model"), field(b"timestamp_granularities[]"), upload.encode()), CTYPE)
    assert parsed.text("model") == "v" and parsed.texts("timestamp_granularities") == ["v"]
    assert parsed.file("file") is not None and parsed.file("file").filename == "é.wav"  # type: ignore[union-attr]


@pytest.mark.parametrize("name", ["\x1f", "\u0080", "\u00a0", "a b", "x" * 65, ""])
def test_a_field_name_that_is_not_a_parameter_name_is_a_400(name: str):
    with pytest.raises(BadRequest) as refused:
        parse_multipart(form(field(b"model"), field(name.encode())), CTYPE)
    assert refused.value.status == 400 and refused.value.code == "invalid_multipart"


def test_a_control_character_in_a_file_name_is_a_400():
    upload = b'Content-Disposition: form-data; name="file"; filename="a\x01.wav"\r\n\r\nRIFF'
    with pytest.raises(BadRequest) as refused:
        parse_multipart(form(field(b"model"), upload), CTYPE)
    assert "control character" in refused.value.message
