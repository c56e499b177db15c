"""The canonical request → what the embedded llama.cpp engine takes: plain text messages for the
chat template and sampling parameters (:class:`~.engine.GenParams`); embedding inputs as texts."""

from __future__ import annotations

import os
from typing import Any

import orjson

from unigate.errors import BadRequest
from unigate.providers.local.engine import (
    SMOLLM2_ALIASES,
    EngineSpec,
    GenParams,
    bundled_smollm2_path,
    default_threads,
    model_unavailable,
)
from unigate.types import ChatRequest, Deployment, EmbeddingRequest

_ROLES = {"system": "system", "developer": "system", "user": "user", "assistant": "assistant"}
_TEXT_PARTS = frozenset({"text", "input_text"})


def resolve_model_path(deployment: Deployment) -> str:
    """The GGUF file a deployment names: option ``model_path``, a ``.gguf`` model, or the
    bundled SmolLM2 for its aliases."""
    path = deployment.option("model_path")
    if not path and deployment.model.lower().endswith(".gguf"):
        path = deployment.model
    if path:
        return os.path.abspath(os.path.expanduser(str(path)))
    if deployment.model.lower() in SMOLLM2_ALIASES:
        return str(bundled_smollm2_path())
    raise model_unavailable(
        f"local deployment {deployment.id!r}: unknown model {deployment.model!r}; "
        "set options.model_path to a .gguf file (or use model 'smollm2-135m')"
    )


def engine_spec(deployment: Deployment, path: str, embedding: bool = False) -> EngineSpec:
    def number(name: str, default: int) -> int:
        value = deployment.option(name, default)
        try:
            result = int(value)
        except (TypeError, ValueError):
            raise model_unavailable(f"local deployment {deployment.id!r}: option {name} must be an integer") from None
        if result < 1:
            raise model_unavailable(f"local deployment {deployment.id!r}: option {name} must be ≥ 1")
        return result

    return EngineSpec(
        path=path,
        n_ctx=number("embedding_n_ctx", 512) if embedding else number("n_ctx", 2048),
        n_threads=number("n_threads", default_threads()),
        n_batch=number("n_batch", 512),
        embedding=embedding,
        chat_template=deployment.option("chat_template"),
    )


def _text_content(content: Any, index: int) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise BadRequest(f"messages[{index}].content must be a string or a list of parts", param="messages")
    texts: list[str] = []
    for part in content:
        kind = part.get("type") if isinstance(part, dict) else None
        if kind in _TEXT_PARTS:
            texts.append(str(part.get("text") or ""))
        elif kind == "refusal":
            texts.append(str(part.get("refusal") or ""))
        else:
            raise BadRequest(
                f"the local model accepts text only; messages[{index}] has a {kind!r} part "
                "(images, audio and files are not supported)",
                param="messages",
                code="unsupported_content",
            )
    return "".join(texts)


def to_messages(request: ChatRequest) -> list[dict[str, str]]:
    """OpenAI messages → plain ``{"role", "content"}`` text messages for the chat template."""
    messages = request.get("messages")
    if not isinstance(messages, list) or not messages:
        raise BadRequest("messages must be a non-empty list", param="messages")
    out: list[dict[str, str]] = []
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            raise BadRequest(f"messages[{i}] must be an object", param="messages")
        role = message.get("role")
        if role in ("tool", "function") or message.get("tool_calls") or message.get("function_call"):
            raise BadRequest(
                "the local model does not support tool calling (messages with tool calls or results)",
                param="messages",
                code="tools_not_supported",
            )
        mapped = _ROLES.get(str(role))
        if mapped is None:
            raise BadRequest(f"messages[{i}].role {role!r} is not supported", param="messages")
        out.append({"role": mapped, "content": _text_content(message.get("content"), i)})
    return out


def _number(request: ChatRequest, name: str, default: float, low: float, high: float) -> float:
    value = request.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise BadRequest(f"{name} must be a number between {low} and {high}", param=name)
    return float(value)


def to_params(request: ChatRequest, deployment: Deployment) -> GenParams:
    """Validate the request's generation fields and turn them into sampler parameters."""
    if request.get("tools") or request.get("functions"):
        raise BadRequest(
            f"model {deployment.public_name!r} (local) does not support tool calling",
            param="tools",
            code="tools_not_supported",
        )
    n = request.get("n")
    if n not in (None, 1):
        raise BadRequest("the local model returns one choice per request (n must be 1)", param="n")
    if request.get("logprobs") or request.get("top_logprobs"):
        raise BadRequest("the local model does not return logprobs", param="logprobs")
    if "audio" in (request.get("modalities") or ()) or request.get("audio"):
        raise BadRequest("the local model does not produce audio", param="modalities")

    max_tokens = request.get("max_completion_tokens")
    if max_tokens is None:
        max_tokens = request.get("max_tokens")
    if max_tokens is not None and (isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1):
        raise BadRequest("max_tokens must be a positive integer", param="max_tokens")

    stop = request.get("stop")
    if stop is None:
        stops: tuple[str, ...] = ()
    elif isinstance(stop, str):
        stops = (stop,) if stop else ()
    elif isinstance(stop, list) and all(isinstance(s, str) for s in stop):
        stops = tuple(s for s in stop if s)
    else:
        raise BadRequest("stop must be a string or a list of strings", param="stop")

    seed = request.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise BadRequest("seed must be an integer", param="seed")

    json_schema: str | None = None
    json_object = False
    response_format = request.get("response_format")
    if response_format is not None:
        kind = response_format.get("type") if isinstance(response_format, dict) else None
        if kind == "json_object":
            json_object = True
        elif kind == "json_schema":
            spec = response_format.get("json_schema")
            schema = spec.get("schema") if isinstance(spec, dict) else None
            if not isinstance(schema, dict):
                raise BadRequest("response_format.json_schema.schema must be an object", param="response_format")
            json_schema = orjson.dumps(schema).decode()
        elif kind != "text":
            raise BadRequest(f"response_format type {kind!r} is not supported", param="response_format")

    return GenParams(
        max_tokens=max_tokens,
        temperature=_number(request, "temperature", float(deployment.option("temperature", 1.0)), 0.0, 2.0),
        top_p=_number(request, "top_p", 1.0, 0.0, 1.0),
        top_k=int(request.get("top_k") or deployment.option("top_k", 40)),
        min_p=_number(request, "min_p", float(deployment.option("min_p", 0.05)), 0.0, 1.0),
        stop=stops,
        seed=seed,
        frequency_penalty=_number(request, "frequency_penalty", 0.0, -2.0, 2.0),
        presence_penalty=_number(request, "presence_penalty", 0.0, -2.0, 2.0),
        json_schema=json_schema,
        json_object=json_object,
    )


def embedding_inputs(request: EmbeddingRequest) -> list[str]:
    value = request.get("input")
    texts: list[Any] = [value] if isinstance(value, str) else value  # type: ignore[assignment]
    if not isinstance(texts, list) or not texts:
        raise BadRequest("input must be a non-empty string or list of strings", param="input")
    if not all(isinstance(t, str) for t in texts):
        raise BadRequest("the local model embeds text only (token-array input is not supported)", param="input")
    if any(not t for t in texts):
        raise BadRequest("input must not contain empty strings", param="input")
    return texts
