"""One gateway in front of the fake media upstream, with a model of every media kind."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from tests.support.fake_media import ThreadedMedia


def media_models(fake: ThreadedMedia, chat_base: str | None = None) -> list[dict[str, Any]]:
    def one(name: str, provider: str, model: str, base: str, **extra: Any) -> dict[str, Any]:
        return {
            "name": name,
            "deployments": [{"provider": provider, "model": model, "api_base": base, "api_key": "sk-upstream-secret"}],
            **extra,
        }

    models = [
        one("whisper-1", "openai", "whisper-1", fake.base_url),
        one("groq-whisper", "groq", "whisper-large-v3", fake.base_url),
        one("azure-whisper", "azure", "whisper", fake.root_url),
        one("gpt-4o-transcribe", "openai", "gpt-4o-transcribe", fake.base_url),
        one("gemini-flash", "gemini", "gemini-2.5-flash", fake.root_url),
        one("tts-1", "openai", "tts-1", fake.base_url),
        one("dall-e-3", "openai", "dall-e-3", fake.base_url),
        one("dall-e-2", "openai", "dall-e-2", fake.base_url),
        one("gemini-image", "gemini", "gemini-2.5-flash-image", fake.root_url),
        one("imagen", "gemini", "imagen-4.0-generate-001", fake.root_url),
        one("rerank-cohere", "cohere", "rerank-v3.5", fake.root_url),
        one("rerank-bedrock", "bedrock", "cohere.rerank-v3-5:0", fake.root_url),
        one(
            "rerank-local",
            "vllm",
            "bge-reranker",
            fake.base_url,
            capabilities={"endpoints": ["rerank"]},
            media_pricing={"per_search": 0.0},
        ),
        one("omni-moderation-latest", "openai", "omni-moderation-latest", fake.base_url),
        one(
            "my-whisper",
            "vllm",
            "Systran/faster-whisper-small",
            fake.base_url,
            capabilities={"endpoints": ["transcription", "translation"]},
            media_pricing={"per_minute": 0.001},
        ),
    ]
    if chat_base is not None:
        models.append(one("gpt-4o-mini", "openai", "gpt-4o-mini", chat_base))
    return models


def speak_wav(path: Path, text: str = "hello from the gateway test") -> Path:
    """A real WAV file of speech, made by espeak-ng."""
    subprocess.run(["espeak-ng", "-w", str(path), text], check=True, capture_output=True)
    return path
