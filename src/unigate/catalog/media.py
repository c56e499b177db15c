"""Non-chat models: which endpoints a model serves and what its audio, images and searches cost.

The data is ``media.yaml`` beside this module; config overrides it per public model
(``capabilities.endpoints`` and ``media_pricing``). Usage of a media request is the canonical
usage dict plus these fields, each priced when present:

- ``audio_seconds``  seconds of audio transcribed or translated (``per_minute``)
- ``characters``     characters turned into speech (``per_mchar``)
- ``images``         images produced, with ``image_size`` / ``image_quality`` (``per_image``)
- ``search_units``   rerank searches (``per_search``)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import yaml

ENDPOINTS = (
    "chat",
    "embeddings",
    "transcription",
    "translation",
    "speech",
    "image_generation",
    "image_edit",
    "rerank",
    "moderation",
)

# what each endpoint is called in an error message
ENDPOINT_LABELS = {
    "chat": "chat completions",
    "embeddings": "embeddings",
    "transcription": "audio transcription",
    "translation": "audio translation",
    "speech": "text to speech",
    "image_generation": "image generation",
    "image_edit": "image editing",
    "rerank": "reranking",
    "moderation": "moderation",
}

# modalities each endpoint takes in and gives out (for /v1/models)
_MODALITIES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "chat": (("text",), ("text",)),
    "embeddings": (("text",), ("embedding",)),
    "transcription": (("audio",), ("text",)),
    "translation": (("audio",), ("text",)),
    "speech": (("text",), ("audio",)),
    "image_generation": (("text",), ("image",)),
    "image_edit": (("text", "image"), ("image",)),
    "rerank": (("text",), ("score",)),
    "moderation": (("text",), ("score",)),
}


@dataclass(frozen=True, slots=True)
class MediaPrice:
    per_minute: float | None = None
    per_mchar: float | None = None
    per_image: tuple[tuple[str, float], ...] = ()
    per_search: float | None = None

    @property
    def empty(self) -> bool:
        return self == MediaPrice()


@dataclass(frozen=True, slots=True)
class MediaInfo:
    endpoints: frozenset[str]
    audio_in: bool = False  # chat takes input_audio parts
    audio_out: bool = False  # chat answers with audio (modalities: ["text", "audio"])
    price: MediaPrice = MediaPrice()


def price_from_mapping(row: dict[str, Any]) -> MediaPrice:
    images = row.get("per_image") or {}
    if isinstance(images, int | float):
        images = {"*": images}
    return MediaPrice(
        per_minute=row.get("per_minute"),
        per_mchar=row.get("per_mchar"),
        per_image=tuple((str(k), float(v)) for k, v in images.items()),
        per_search=row.get("per_search"),
    )


@cache
def _table() -> dict[str, dict[str, dict[str, Any]]]:
    text = resources.files("unigate.catalog").joinpath("media.yaml").read_text()
    return yaml.safe_load(text)


def default_media_models(provider: str) -> list[str]:
    return [name for name, row in (_table().get(provider) or {}).items() if row.get("default")]


def media_info(provider: str, model: str) -> MediaInfo | None:
    row = (_table().get(provider) or {}).get(model)
    if row is None:
        return None
    audio = row.get("audio")
    return MediaInfo(frozenset(row.get("endpoints") or ()), bool(audio), audio == "inout", price_from_mapping(row))


def image_price(price: MediaPrice, size: str | None, quality: str | None) -> float | None:
    """The price of one image: "<quality>/<size>", "<quality>/*", "<size>", "<quality>", then "*"."""
    table = dict(price.per_image)
    for key in (f"{quality}/{size}", f"{quality}/*", str(size), str(quality), "*"):
        if key in table:
            return table[key]
    return None


def media_cost(price: MediaPrice, usage: Mapping[str, Any]) -> float | None:
    """USD for the media parts of ``usage``; None when a part has no price."""
    total = 0.0
    priced = False
    seconds = usage.get("audio_seconds")
    if seconds is not None:
        if price.per_minute is None:
            return None
        total += float(seconds) / 60.0 * price.per_minute
        priced = True
    characters = usage.get("characters")
    if characters is not None:
        if price.per_mchar is None:
            return None
        total += int(characters) * price.per_mchar / 1e6
        priced = True
    images = usage.get("images")
    if images is not None:
        each = image_price(price, usage.get("image_size"), usage.get("image_quality"))
        if each is None:
            return None
        total += int(images) * each
        priced = True
    searches = usage.get("search_units")
    if searches is not None:
        if price.per_search is None:
            return None
        total += int(searches) * price.per_search
        priced = True
    return round(total, 10) if priced else None


def modalities(endpoints: frozenset[str], vision: bool, audio_in: bool, audio_out: bool) -> dict[str, list[str]]:
    inputs: list[str] = []
    outputs: list[str] = []
    for endpoint in ENDPOINTS:
        if endpoint not in endpoints:
            continue
        ins, outs = _MODALITIES[endpoint]
        inputs.extend(m for m in ins if m not in inputs)
        outputs.extend(m for m in outs if m not in outputs)
    if "chat" in endpoints:
        if vision and "image" not in inputs:
            inputs.append("image")
        if audio_in and "audio" not in inputs:
            inputs.append("audio")
        if audio_out and "audio" not in outputs:
            outputs.append("audio")
    return {"input": inputs, "output": outputs}
