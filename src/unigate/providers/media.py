"""Shared types and pure helpers for non-chat provider calls: uploads, replies, multipart forms.

Provider methods for these endpoints (all optional; the gateway skips a deployment whose
provider lacks one)::

    transcribe(request, deployment) -> MediaReply            /v1/audio/transcriptions
    translate(request, deployment) -> MediaReply             /v1/audio/translations
    transcribe_stream(request, deployment) -> (StreamHead, AsyncIterator[bytes])
    speech(request, deployment) -> (StreamHead, AsyncIterator[bytes])
    generate_images(request, deployment) -> dict             /v1/images/generations
    edit_images(request, deployment) -> dict                 /v1/images/edits
    rerank(request, deployment) -> dict                      /v1/rerank (Cohere shape)
    moderate(request, deployment) -> dict                    /v1/moderations

``request`` is the client's request as a dict; uploaded files in it are :class:`Upload` values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import aiohttp

from unigate.errors import UpstreamServerError
from unigate.types import Usage


@dataclass(frozen=True, slots=True)
class Upload:
    filename: str
    content_type: str
    data: bytes

    def __repr__(self) -> str:  # never dump file bytes into logs
        return f"Upload({self.filename!r}, {self.content_type!r}, {len(self.data)} bytes)"


@dataclass(slots=True)
class MediaReply:
    """An upstream answer passed to the client as it came (JSON, text, SRT, VTT, …)."""

    body: bytes
    content_type: str
    usage: Usage | None = None


@dataclass(slots=True)
class StreamHead:
    """The start of a streamed upstream answer: its type and the usage known up front;
    ``final_usage`` is filled in by the stream when the upstream reports usage at its end."""

    content_type: str
    usage: Usage | None = None
    final_usage: Usage | None = None
    headers: dict[str, str] = field(default_factory=dict)


def form_data(request: dict[str, Any], model: str, skip: frozenset[str] = frozenset()) -> aiohttp.FormData:
    """A multipart form for an upstream: files as file parts, lists as repeated ``name[]`` fields,
    everything else as text; the upstream model id replaces the client's."""
    form = aiohttp.FormData()
    for name, value in request.items():
        if name in skip or name.startswith("_") or value is None:
            continue
        if name == "model":
            value = model
        if isinstance(value, Upload):
            form.add_field(name, value.data, filename=value.filename, content_type=value.content_type)
        elif isinstance(value, list) and value and isinstance(value[0], Upload):
            for item in value:
                form.add_field(f"{name}[]", item.data, filename=item.filename, content_type=item.content_type)
        elif isinstance(value, list):
            for item in value:
                form.add_field(f"{name}[]", str(item))
        elif isinstance(value, bool):
            form.add_field(name, "true" if value else "false")
        else:
            form.add_field(name, str(value))
    return form


def audio_usage(body: Any, measured_seconds: float | None) -> Usage | None:
    """Usage of a transcription: OpenAI's ``usage`` (duration or tokens), else ``duration``
    (verbose_json), else the duration the gateway measured from the upload."""
    usage: Usage = {}
    seconds: float | None = None
    if isinstance(body, dict):
        reported = body.get("usage")
        if isinstance(reported, dict):
            if reported.get("type") == "duration" and reported.get("seconds") is not None:
                seconds = float(reported["seconds"])
            elif reported.get("type") == "tokens" or "input_tokens" in reported:
                usage["prompt_tokens"] = int(reported.get("input_tokens") or 0)
                usage["completion_tokens"] = int(reported.get("output_tokens") or 0)
                usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        if seconds is None and isinstance(body.get("duration"), int | float):
            seconds = float(body["duration"])
    if seconds is None:
        seconds = measured_seconds
    if seconds is not None:
        usage["audio_seconds"] = round(seconds, 3)
    return usage or None


def image_usage(body: Any, request: dict[str, Any]) -> Usage:
    """Usage of an image request: how many images came back, at which size and quality."""
    data = body.get("data") if isinstance(body, dict) else None
    usage: Usage = {
        "images": len(data) if isinstance(data, list) else 0,
        "image_size": str(request.get("size") or "1024x1024"),
        "image_quality": str(request.get("quality") or "standard"),
    }
    reported = body.get("usage") if isinstance(body, dict) else None
    if isinstance(reported, dict) and "input_tokens" in reported:
        usage["prompt_tokens"] = int(reported.get("input_tokens") or 0)
        usage["completion_tokens"] = int(reported.get("output_tokens") or 0)
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
    return usage


def rerank_documents(request: dict[str, Any]) -> list[str]:
    """Documents as plain strings (the Cohere/Jina shape also allows ``{"text": …}`` objects)."""
    out: list[str] = []
    for doc in request.get("documents") or ():
        if isinstance(doc, str):
            out.append(doc)
        elif isinstance(doc, dict):
            out.append(str(doc.get("text") or ""))
        else:
            out.append(str(doc))
    return out


def rerank_reply(
    results: list[dict[str, Any]], request: dict[str, Any], model: str, usage: Any = None
) -> dict[str, Any]:
    """The Cohere/Jina-shaped answer: results best first, ``top_n`` of them, with documents when asked."""
    import uuid

    documents = rerank_documents(request)
    ranked: list[dict[str, Any]] = sorted(
        (
            {"index": int(item["index"]), "relevance_score": float(item["relevance_score"])}
            for item in results
            if isinstance(item, dict) and "index" in item and "relevance_score" in item
        ),
        key=lambda item: -item["relevance_score"],
    )
    if any(not 0 <= item["index"] < len(documents) for item in ranked):
        raise UpstreamServerError("upstream rerank returned an index out of range", status=502)
    top_n = request.get("top_n")
    if isinstance(top_n, int) and top_n > 0:
        ranked = ranked[:top_n]
    if request.get("return_documents"):
        for item in ranked:
            item["document"] = {"text": documents[item["index"]]}
    searches = max(1, -(-len(documents) // 100))  # Cohere bills one search unit per 100 documents
    reply: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "model": model,
        "results": ranked,
        "meta": {"billed_units": {"search_units": searches}},
    }
    if isinstance(usage, dict) and usage.get("total_tokens"):
        reply["usage"] = {"total_tokens": int(usage["total_tokens"])}
    return reply


def rerank_usage(reply: dict[str, Any]) -> Usage:
    units = ((reply.get("meta") or {}).get("billed_units") or {}).get("search_units")
    usage: Usage = {"search_units": int(units or 1)}
    tokens = (reply.get("usage") or {}).get("total_tokens")
    if tokens:
        usage["prompt_tokens"] = int(tokens)
        usage["completion_tokens"] = 0
        usage["total_tokens"] = int(tokens)
    return usage
