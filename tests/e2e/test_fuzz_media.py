"""Property-based fuzzing of the media, Responses, files and batch surfaces against a real gateway
process in front of the fake media and chat upstreams.

JSON bodies are mutated as in ``test_fuzz.py``. Multipart uploads (transcriptions, translations,
image edits, files) are rebuilt from a valid form with fields dropped, replaced by any text or
bytes, files emptied or filled with noise, odd file names and content types, and now and then a
broken boundary or a truncated body. The property is the same: no status of 500 or more, and every
error is OpenAI-shaped.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.support.fake_media import PNG, ThreadedMedia
from tests.support.fuzz import FUZZ, JSON, MASTER, TALLY, cases, check, send
from tests.support.gateway_process import GatewayProcess
from tests.support.media_gateway import media_models, speak_wav

RESPONSES = {
    "model": "gpt-4o-mini",
    "instructions": "be brief",
    "input": [{"role": "user", "content": [{"type": "input_text", "text": "hi"}]}],
    "max_output_tokens": 5,
    "tools": [{"type": "function", "name": "f", "parameters": {"type": "object"}}],
    "store": False,
}
RESPONSES_FIELDS = [
    "input", "instructions", "previous_response_id", "store", "stream", "tools", "tool_choice", "text",
    "reasoning", "metadata", "include", "truncation", "content", "type", "role", "call_id", "output",
]  # fmt: skip
IMAGES = {
    "model": "dall-e-3",
    "prompt": "a red dot",
    "n": 1,
    "size": "1024x1024",
    "quality": "standard",
    "response_format": "b64_json",
}
IMAGES_FIELDS = ["model", "prompt", "n", "size", "quality", "style", "response_format", "user", "background"]
SPEECH = {"model": "tts-1", "input": "hello", "voice": "alloy", "response_format": "mp3", "speed": 1.0}
SPEECH_FIELDS = ["model", "input", "voice", "response_format", "speed", "instructions", "stream_format"]
RERANK = {"model": "rerank-cohere", "query": "q", "documents": ["a", {"text": "b"}], "top_n": 1}
RERANK_FIELDS = ["model", "query", "documents", "top_n", "return_documents", "max_chunks_per_doc", "rank_fields"]
MODERATION = {"model": "omni-moderation-latest", "input": ["some text", "more"]}
MODERATION_FIELDS = ["model", "input", "type", "text", "image_url", "url"]
BATCH_FIELDS = ["input_file_id", "endpoint", "completion_window", "metadata", "output_expires_after"]

JSON_SURFACES = [
    ("/v1/responses", RESPONSES, RESPONSES_FIELDS),
    ("/v1/images/generations", IMAGES, IMAGES_FIELDS),
    ("/v1/audio/speech", SPEECH, SPEECH_FIELDS),
    ("/v1/rerank", RERANK, RERANK_FIELDS),
    ("/v1/moderations", MODERATION, MODERATION_FIELDS),
]


@pytest.fixture(scope="module")
def gateway(
    fake: ThreadedMedia, agent_upstream: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GatewayProcess]:
    workdir = tmp_path_factory.mktemp("fuzz-media")
    config = {
        "local_model": {"enabled": False},
        "discover_providers": False,
        "server": {"master_key": MASTER, "max_body_bytes": 1_000_000},
        "models": media_models(fake, chat_base=agent_upstream.base_url),  # chat and Responses
        "media": {"max_audio_bytes": 500_000, "max_image_bytes": 500_000},
        "observability": {"log_requests": False},
    }
    process = GatewayProcess(config=config, workdir=workdir).start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    with httpx.Client() as http:
        yield http


@pytest.fixture(scope="module")
def wav(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return speak_wav(tmp_path_factory.mktemp("wav") / "speech.wav", "fuzz").read_bytes()


def auth() -> dict[str, str]:
    return {"authorization": f"Bearer {MASTER}"}


@pytest.mark.parametrize(("path", "template", "fields"), JSON_SURFACES, ids=[s[0] for s in JSON_SURFACES])
def test_no_json_body_makes_a_5xx(gateway, client, path, template, fields):
    valid = client.post(gateway.url + path, json=template, headers=auth())
    assert valid.status_code == 200, (
        valid.text
    )  # the template itself is served: the mutations start from a real request

    @FUZZ
    @given(body=cases(template, fields))
    def run(body: Any) -> None:
        check(send(gateway, "POST", path, body, client), "openai", body)

    run()


# -- multipart ---------------------------------------------------------------------------------

Part = tuple[str, str | None, str | None, bytes]  # name, filename, content type, data


def encode(parts: list[Part], boundary: str) -> bytes:
    out = b""
    for name, filename, ctype, data in parts:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename is not None else "")
        out += f"--{boundary}\r\nContent-Disposition: {disposition}\r\n".encode()
        if ctype is not None:
            out += f"Content-Type: {ctype}\r\n".encode()
        out += b"\r\n" + data + b"\r\n"
    return out + f"--{boundary}--\r\n".encode()


TEXTS = st.text(max_size=20) | st.sampled_from(["", "json", "text", "srt", "vtt", "verbose_json", "word", "-1", "2"])
NOISE = st.binary(max_size=64) | st.just(b"") | st.sampled_from([b"RIFF\x00\x00\x00\x00WAVE", PNG[:20], b"\xff" * 40])


@st.composite
def multipart(draw: st.DrawFn, parts: list[Part], fields: list[str]) -> tuple[bytes, str]:
    """A mutated form and the content-type header it is sent with."""
    form = list(parts)
    for _ in range(draw(st.integers(1, 3))):
        action = draw(st.sampled_from(["drop", "value", "file", "add", "name", "ctype"]))
        if not form:
            action = "add"
        i = draw(st.integers(0, max(0, len(form) - 1)))
        if action == "drop":
            form.pop(i)
        elif action == "value":
            name, filename, ctype, _ = form[i]
            form[i] = (name, filename, ctype, draw(TEXTS).encode(errors="surrogatepass") or draw(NOISE))
        elif action == "file":
            name, _, ctype, data = form[i]
            form[i] = (
                name,
                draw(st.sampled_from(["a.wav", "x", "", "../../etc/passwd", "a.png", "é.mp3"])),
                ctype,
                data,
            )
        elif action == "add":
            value = draw(NOISE) if draw(st.booleans()) else json.dumps(draw(JSON)).encode()
            form.append((draw(st.sampled_from(fields) | st.text(max_size=6)), None, None, value))
        elif action == "name":
            name, filename, ctype, data = form[i]
            form[i] = (draw(st.sampled_from(fields) | st.text(max_size=6)), filename, ctype, data)
        else:
            name, filename, _, data = form[i]
            form[i] = (name, filename, draw(st.sampled_from(["text/plain", "image/png", "audio/wav", "x/y", ""])), data)
    boundary = "fuzzboundary"
    body = encode(form, boundary)
    framing = draw(st.sampled_from(["ok", "ok", "ok", "ok", "no-boundary", "other-boundary", "truncated", "json"]))
    if framing == "no-boundary":
        return body, "multipart/form-data"
    if framing == "other-boundary":
        return body, "multipart/form-data; boundary=elsewhere"
    if framing == "truncated":
        return body[: draw(st.integers(0, len(body)))], f"multipart/form-data; boundary={boundary}"
    if framing == "json":
        return body, "application/json"
    return body, f"multipart/form-data; boundary={boundary}"


def forms(wav: bytes) -> list[tuple[str, list[Part], list[str]]]:
    audio: list[Part] = [
        ("model", None, None, b"whisper-1"),
        ("file", "speech.wav", "audio/wav", wav),
        ("response_format", None, None, b"json"),
        ("language", None, None, b"en"),
    ]
    audio_fields = ["model", "file", "response_format", "language", "prompt", "temperature", "stream",
                    "timestamp_granularities[]", "include[]", "chunking_strategy"]  # fmt: skip
    edit: list[Part] = [
        ("model", None, None, b"dall-e-2"),
        ("image", "dot.png", "image/png", PNG),
        ("mask", "mask.png", "image/png", PNG),
        ("prompt", None, None, b"a blue dot"),
        ("n", None, None, b"1"),
    ]
    edit_fields = ["model", "image", "image[]", "mask", "prompt", "n", "size", "response_format", "quality"]
    upload: list[Part] = [
        ("purpose", None, None, b"batch"),
        ("file", "in.jsonl", "application/jsonl", b'{"custom_id": "1", "method": "POST", "url": "/v1/embeddings"}\n'),
    ]
    return [
        ("/v1/audio/transcriptions", audio, audio_fields),
        ("/v1/audio/translations", audio, audio_fields),
        ("/v1/images/edits", edit, edit_fields),
        ("/v1/files", upload, ["purpose", "file", "expires_after[anchor]", "expires_after[seconds]"]),
    ]


@pytest.mark.parametrize("index", range(4), ids=["transcriptions", "translations", "image-edits", "files"])
def test_no_multipart_upload_makes_a_5xx(gateway, client, wav, index):
    path, parts, fields = forms(wav)[index]
    boundary = "fuzzboundary"
    headers = {**auth(), "content-type": f"multipart/form-data; boundary={boundary}"}
    valid = client.post(gateway.url + path, content=encode(parts, boundary), headers=headers)
    assert valid.status_code == 200, valid.text

    @FUZZ
    @given(case=multipart(parts, fields))
    def run(case: tuple[bytes, str]) -> None:
        body, ctype = case
        response = client.post(gateway.url + path, content=body, headers={**auth(), "content-type": ctype}, timeout=30)
        check(response, "openai", body[:200])

    run()


# -- batches -----------------------------------------------------------------------------------


def test_no_batch_request_makes_a_5xx(gateway, client, tmp_path: Path):
    line = {"custom_id": "1", "method": "POST", "url": "/v1/chat/completions",
            "body": {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}}  # fmt: skip
    uploaded = client.post(
        gateway.base_url + "/files",
        files={"file": ("in.jsonl", json.dumps(line).encode() + b"\n")},
        data={"purpose": "batch"},
        headers=auth(),
    )
    assert uploaded.status_code == 200, uploaded.text
    template = {"input_file_id": uploaded.json()["id"], "endpoint": "/v1/chat/completions", "completion_window": "24h"}

    @FUZZ
    @given(body=cases({**template, "metadata": {"team": "fuzz"}}, BATCH_FIELDS))
    def run(body: Any) -> None:
        check(send(gateway, "POST", "/v1/batches", body, client), "openai", body)

    run()
    listing = client.get(gateway.base_url + "/batches", headers=auth())
    assert listing.status_code == 200, listing.text
    print(f"\nfuzz (media): {TALLY.cases} cases, {TALLY.server_errors} responses >= 500")
