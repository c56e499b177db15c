"""/v1/audio/*: the openai SDK through the gateway to fake OpenAI, Groq, Gemini and vLLM
upstreams; a real WAV made by espeak-ng; cost per second of audio in the header and the ledger."""

from __future__ import annotations

import wave
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from tests.support.fake_media import SPEECH_CHUNK, SPEECH_CHUNKS, ThreadedMedia
from tests.support.gateway_process import GatewayProcess
from tests.support.media_gateway import media_models, speak_wav


@pytest.fixture(scope="module")
def gateway(fake: ThreadedMedia, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    workdir = tmp_path_factory.mktemp("audio")
    config = {
        "local_model": {"enabled": False},
        "discover_providers": False,
        "models": media_models(fake, chat_base=fake.base_url),
        "media": {"max_audio_bytes": 2_000_000},
    }
    process = GatewayProcess(config=config, workdir=workdir).start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return speak_wav(tmp_path_factory.mktemp("wav") / "speech.wav")


@pytest.fixture
def client(gateway: GatewayProcess) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.base_url, api_key="unused", max_retries=0)


def wav_seconds(path: Path) -> float:
    with wave.open(str(path)) as audio:
        return audio.getnframes() / audio.getframerate()


def test_transcription_forwards_the_file_and_charges_per_second(
    client: openai.OpenAI, fake: ThreadedMedia, wav: Path
) -> None:
    before = len(fake.seen)
    with wav.open("rb") as handle:
        raw = client.audio.transcriptions.with_raw_response.create(
            model="whisper-1", file=handle, language="en", prompt="a test"
        )
    transcript = raw.parse()
    data = wav.read_bytes()
    assert transcript.text == f"heard {len(data)} bytes of speech.wav"
    seen = fake.seen[before]
    assert seen.path == "/v1/audio/transcriptions"
    assert seen.files["file"][0][2] == data
    assert seen.fields["model"] == ["whisper-1"] and seen.fields["language"] == ["en"]
    assert seen.headers["authorization"] == "Bearer sk-upstream-secret"
    expected = wav_seconds(wav) / 60 * 0.006
    assert float(raw.headers["x-unigate-cost"]) == pytest.approx(expected, rel=1e-3)
    assert raw.headers["x-unigate-provider"] == "openai"


def test_the_ledger_has_the_audio_cost(client: openai.OpenAI, gateway: GatewayProcess, wav: Path) -> None:
    with wav.open("rb") as handle:
        raw = client.audio.translations.with_raw_response.create(model="groq-whisper", file=handle)
    cost = float(raw.headers["x-unigate-cost"])
    assert cost == pytest.approx(wav_seconds(wav) / 60 * 0.00185, rel=1e-3)
    httpx.post(f"{gateway.url}/admin/usage/flush").raise_for_status()
    rows = httpx.get(f"{gateway.url}/admin/usage", params={"model": "groq-whisper"}).json()["data"]
    row = next(r for r in rows if r["request_id"] == raw.headers["x-request-id"])
    assert row["endpoint"] == "translation" and row["provider"] == "groq"
    assert row["cost"] == pytest.approx(cost, abs=1e-9)


@pytest.mark.parametrize("fmt", ["text", "srt", "vtt"])
def test_text_formats_come_back_as_text(client: openai.OpenAI, wav: Path, fmt: str) -> None:
    with wav.open("rb") as handle:
        text = client.audio.transcriptions.create(model="groq-whisper", file=handle, response_format=fmt)
    assert isinstance(text, str) and "bytes of speech.wav" in text
    if fmt == "vtt":
        assert text.startswith("WEBVTT")


def test_verbose_json_with_word_timestamps(client: openai.OpenAI, fake: ThreadedMedia, wav: Path) -> None:
    before = len(fake.seen)
    with wav.open("rb") as handle:
        result = client.audio.transcriptions.create(
            model="whisper-1", file=handle, response_format="verbose_json", timestamp_granularities=["word"]
        )
    assert result.words and result.words[0].word == "heard"
    assert fake.seen[before].fields["timestamp_granularities[]"] == ["word"]


def test_translation(client: openai.OpenAI, fake: ThreadedMedia, wav: Path) -> None:
    before = len(fake.seen)
    with wav.open("rb") as handle:
        result = client.audio.translations.create(model="whisper-1", file=handle)
    assert "bytes of speech.wav" in result.text
    assert fake.seen[before].path == "/v1/audio/translations"


def test_openai_compatible_server_as_a_table_row(client: openai.OpenAI, fake: ThreadedMedia, wav: Path) -> None:
    before = len(fake.seen)
    with wav.open("rb") as handle:
        raw = client.audio.transcriptions.with_raw_response.create(model="my-whisper", file=handle)
    assert "bytes of speech.wav" in raw.parse().text
    assert fake.seen[before].fields["model"] == ["Systran/faster-whisper-small"]
    # a local server row sends a configured key as a bearer token (vllm serve --api-key)
    assert fake.seen[before].headers["authorization"] == "Bearer sk-upstream-secret"
    assert float(raw.headers["x-unigate-cost"]) == pytest.approx(wav_seconds(wav) / 60 * 0.001, rel=1e-3)


def test_azure_deployment_path_and_key_header(client: openai.OpenAI, fake: ThreadedMedia, wav: Path) -> None:
    before = len(fake.seen)
    with wav.open("rb") as handle:
        result = client.audio.transcriptions.create(model="azure-whisper", file=handle)
    assert "bytes of speech.wav" in result.text
    sent = fake.seen[before]
    assert sent.path == "/openai/deployments/whisper/audio/transcriptions"
    assert sent.headers["api-key"] == "sk-upstream-secret" and "authorization" not in sent.headers


def test_gemini_transcribes_through_its_audio_input(client: openai.OpenAI, fake: ThreadedMedia, wav: Path) -> None:
    before = len(fake.seen)
    with wav.open("rb") as handle:
        result = client.audio.transcriptions.create(model="gemini-flash", file=handle)
    assert result.text == "gemini heard you"
    sent = fake.seen[before]
    assert sent.path.endswith("gemini-2.5-flash:generateContent")
    audio = [p for p in sent.json["contents"][0]["parts"] if "inlineData" in p]
    assert audio and audio[0]["inlineData"]["mimeType"] == "audio/wav"


def test_streamed_transcription_relays_events(gateway: GatewayProcess, wav: Path) -> None:
    client = openai.OpenAI(base_url=gateway.base_url, api_key="unused", max_retries=0)
    with wav.open("rb") as handle:
        stream = client.audio.transcriptions.create(model="gpt-4o-transcribe", file=handle, stream=True)
        events = list(stream)
    kinds = [e.type for e in events]
    assert kinds[-1] == "transcript.text.done" and kinds.count("transcript.text.delta") >= 3
    assert "".join(e.delta for e in events if e.type == "transcript.text.delta").strip() == events[-1].text


def test_speech_streams_the_audio(client: openai.OpenAI, fake: ThreadedMedia) -> None:
    before = len(fake.seen)
    received = b""
    pieces = 0
    with client.audio.speech.with_streaming_response.create(
        model="tts-1", voice="alloy", input="Hello there", response_format="mp3", speed=1.25
    ) as response:
        assert response.headers["content-type"] == "audio/mpeg"
        cost = float(response.headers["x-unigate-cost"])
        for piece in response.iter_bytes():
            received += piece
            pieces += 1
    assert received == SPEECH_CHUNK * SPEECH_CHUNKS
    assert cost == pytest.approx(len("Hello there") * 15.0 / 1e6)
    body = fake.seen[before].json
    assert body == {"model": "tts-1", "voice": "alloy", "input": "Hello there", "response_format": "mp3", "speed": 1.25}


def test_upstream_failure_falls_back_to_a_retry(client: openai.OpenAI, fake: ThreadedMedia, wav: Path) -> None:
    fake.fail_next.append(503)
    with wav.open("rb") as handle:
        result = client.audio.transcriptions.create(model="whisper-1", file=handle)
    assert "bytes of speech.wav" in result.text


# -- bad input ---------------------------------------------------------------------------------


def _error(exc: pytest.ExceptionInfo[openai.APIStatusError]) -> dict[str, object]:
    body = exc.value.response.json()
    assert set(body["error"]) >= {"message", "type", "param", "code"}
    return body["error"]


def test_empty_file_is_refused(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as exc:
        client.audio.transcriptions.create(model="whisper-1", file=("empty.wav", b"", "audio/wav"))
    assert _error(exc)["param"] == "file"


def test_oversize_audio_is_413(client: openai.OpenAI) -> None:
    with pytest.raises(openai.APIStatusError) as exc:
        client.audio.transcriptions.create(model="whisper-1", file=("big.wav", b"\0" * 2_100_000, "audio/wav"))
    assert exc.value.status_code == 413
    _error(exc)


def test_not_audio_is_refused(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as exc:
        client.audio.transcriptions.create(model="whisper-1", file=("notes.txt", b"hello", "text/plain"))
    assert "Invalid file format" in str(_error(exc)["message"])


def test_wrong_model_kind_is_refused_naming_the_model(client: openai.OpenAI, wav: Path) -> None:
    with wav.open("rb") as handle, pytest.raises(openai.BadRequestError) as exc:
        client.audio.transcriptions.create(model="tts-1", file=handle)
    error = _error(exc)
    assert error["code"] == "model_not_supported" and "tts-1" in str(error["message"])


def test_unknown_model_is_404(client: openai.OpenAI, wav: Path) -> None:
    with wav.open("rb") as handle, pytest.raises(openai.NotFoundError):
        client.audio.transcriptions.create(model="no-such-model", file=handle)


def test_json_instead_of_multipart_is_415(gateway: GatewayProcess) -> None:
    reply = httpx.post(f"{gateway.base_url}/audio/transcriptions", json={"model": "whisper-1"})
    assert reply.status_code == 415
    assert reply.json()["error"]["type"] == "invalid_request_error"


def test_broken_multipart_is_400(gateway: GatewayProcess) -> None:
    reply = httpx.post(
        f"{gateway.base_url}/audio/transcriptions",
        content=b'--xyz\r\nContent-Disposition: form-data; name="model"\r\n\r\nwhisper-1\r\n--xyz',
        headers={"content-type": "multipart/form-data; boundary=abc"},
    )
    assert reply.status_code == 400


def test_missing_file_is_400(gateway: GatewayProcess) -> None:
    reply = httpx.post(f"{gateway.base_url}/audio/transcriptions", files={"model": (None, "whisper-1")})
    assert reply.status_code == 400 and reply.json()["error"]["param"] == "file"


def test_speech_bad_input(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as exc:
        client.audio.speech.create(model="tts-1", voice="alloy", input="hi", speed=9)
    assert _error(exc)["param"] == "speed"
    with pytest.raises(openai.BadRequestError) as exc:
        client.audio.speech.create(model="tts-1", voice="alloy", input="")
    assert _error(exc)["param"] == "input"


# -- chat with audio -----------------------------------------------------------------------------


def _audio_message(wav: Path) -> list[dict[str, object]]:
    import base64

    data = base64.b64encode(wav.read_bytes()).decode()
    return [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is said?"},
                {"type": "input_audio", "input_audio": {"data": data, "format": "wav"}},
            ],
        }
    ]


def test_chat_audio_input_reaches_gemini_natively(client: openai.OpenAI, fake: ThreadedMedia, wav: Path) -> None:
    before = len(fake.seen)
    reply = client.chat.completions.create(model="gemini-flash", messages=_audio_message(wav))  # type: ignore[arg-type]
    assert reply.choices[0].message.content == "gemini heard you"
    parts = fake.seen[before].json["contents"][0]["parts"]
    assert any(p.get("inlineData", {}).get("mimeType") == "audio/wav" for p in parts)


def test_chat_audio_to_a_model_without_audio_is_refused(client: openai.OpenAI, wav: Path) -> None:
    with pytest.raises(openai.BadRequestError) as exc:
        client.chat.completions.create(model="gpt-4o-mini", messages=_audio_message(wav))  # type: ignore[arg-type]
    error = _error(exc)
    assert error["code"] == "model_not_supported" and "gpt-4o-mini" in str(error["message"])
    assert "audio input" in str(error["message"])
    with pytest.raises(openai.BadRequestError) as exc:
        client.chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": "hi"}],
            modalities=["text", "audio"],
            audio={"voice": "alloy", "format": "wav"},
        )
    assert "audio output" in str(_error(exc)["message"])


def test_models_report_endpoints_and_modalities(client: openai.OpenAI) -> None:
    models = {m.id: m.model_extra or {} for m in client.models.list()}
    assert models["whisper-1"]["endpoints"] == ["transcription", "translation"]
    assert models["whisper-1"]["modalities"] == {"input": ["audio"], "output": ["text"]}
    assert models["whisper-1"]["media_pricing"] == {"per_minute": 0.006, "currency": "USD"}
    assert models["dall-e-3"]["media_pricing"]["per_image"]["hd/1024x1024"] == 0.08
    assert models["tts-1"]["modalities"] == {"input": ["text"], "output": ["audio"]}
    assert models["gemini-flash"]["endpoints"] == ["chat", "transcription"]
    assert "audio" in models["gemini-flash"]["modalities"]["input"]
    assert models["my-whisper"]["endpoints"] == ["transcription", "translation"]  # from config
    assert models["rerank-cohere"]["modalities"]["output"] == ["score"]
