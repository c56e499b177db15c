"""Every OpenAI-compatible upstream, as rows of one table.

A row says where the API lives, which environment variable holds its key, how the key is
sent, and the quirks that differ from OpenAI. Adding a provider is adding a row.
Translation is nearly the identity; the pure functions below hold the few normalizations
(reasoning field names, missing tool-call ids, error classes).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, cast

import orjson

from unigate.errors import (
    ContentFiltered,
    ContextWindowExceeded,
    ProviderError,
    UpstreamServerError,
    classify_http_status,
    parse_retry_after,
)
from unigate.providers import openai_responses
from unigate.providers._http import iter_sse, join_url, open_stream, post_json
from unigate.providers._openai_media import OpenAIMediaMixin
from unigate.providers.base import ProviderContext
from unigate.types import (
    RESPONSES_REQUEST,
    ChatChunk,
    ChatRequest,
    ChatResponse,
    Deployment,
    EmbeddingRequest,
    EmbeddingResponse,
    as_json,
)


@dataclass(frozen=True, slots=True)
class CompatRow:
    base_url: str
    key_env: str | None = None
    auth: str = "bearer"  # "bearer" | "api-key" (Azure) | "none"
    # request fields the upstream rejects; dropped before sending
    drop_params: tuple[str, ...] = ()
    # whether the upstream accepts stream_options.include_usage
    stream_usage: bool = True
    # Azure: deployment in the path and api-version in the query
    azure: bool = False
    # models offered zero-config when the key is present (the catalog adds prices/capabilities)
    default_models: tuple[str, ...] = ()
    local: bool = False  # runs on the user's own machine (privacy policies treat it as local)
    # serves POST /v1/responses: Responses API requests go to it natively (deployment option
    # ``responses_api`` overrides, e.g. for a vLLM server that has it)
    responses_api: bool = False


COMPAT_PROVIDERS: dict[str, CompatRow] = {
    "openai": CompatRow(
        "https://api.openai.com/v1",
        "OPENAI_API_KEY",
        responses_api=True,
        default_models=(
            "gpt-4o",
            "gpt-4o-mini",
            "gpt-4.1",
            "gpt-4.1-mini",
            "gpt-4.1-nano",
            "o3-mini",
            "o4-mini",
        ),
    ),
    "azure": CompatRow("", "AZURE_OPENAI_API_KEY", auth="api-key", azure=True),
    "groq": CompatRow(
        "https://api.groq.com/openai/v1",
        "GROQ_API_KEY",
        drop_params=("logprobs", "top_logprobs", "logit_bias"),
        default_models=("llama-3.3-70b-versatile", "llama-3.1-8b-instant", "openai/gpt-oss-120b"),
    ),
    "mistral": CompatRow(
        "https://api.mistral.ai/v1",
        "MISTRAL_API_KEY",
        drop_params=("logit_bias", "user", "store", "metadata"),
        default_models=("mistral-large-latest", "mistral-small-latest", "codestral-latest"),
    ),
    "together": CompatRow(
        "https://api.together.xyz/v1",
        "TOGETHER_API_KEY",
        default_models=("meta-llama/Llama-3.3-70B-Instruct-Turbo", "deepseek-ai/DeepSeek-V3"),
    ),
    "fireworks": CompatRow(
        "https://api.fireworks.ai/inference/v1",
        "FIREWORKS_API_KEY",
        default_models=("accounts/fireworks/models/llama-v3p3-70b-instruct",),
    ),
    "deepseek": CompatRow(
        "https://api.deepseek.com",
        "DEEPSEEK_API_KEY",
        default_models=("deepseek-chat", "deepseek-reasoner"),
    ),
    "xai": CompatRow("https://api.x.ai/v1", "XAI_API_KEY", default_models=("grok-3", "grok-3-mini")),
    "openrouter": CompatRow(
        "https://openrouter.ai/api/v1",
        "OPENROUTER_API_KEY",
        default_models=("openai/gpt-4o-mini", "anthropic/claude-3.5-sonnet"),
    ),
    "cerebras": CompatRow(
        "https://api.cerebras.ai/v1",
        "CEREBRAS_API_KEY",
        drop_params=("frequency_penalty", "presence_penalty", "logit_bias"),
        default_models=("llama3.1-8b", "llama-3.3-70b"),
    ),
    "perplexity": CompatRow(
        "https://api.perplexity.ai",
        "PERPLEXITY_API_KEY",
        drop_params=("logit_bias", "logprobs", "n", "tools", "tool_choice"),
        default_models=("sonar", "sonar-pro"),
    ),
    "deepinfra": CompatRow(
        "https://api.deepinfra.com/v1/openai",
        "DEEPINFRA_API_KEY",
        default_models=("meta-llama/Meta-Llama-3.1-8B-Instruct",),
    ),
    "huggingface": CompatRow(
        "https://router.huggingface.co/v1",
        "HF_TOKEN",
        default_models=("meta-llama/Llama-3.3-70B-Instruct",),
    ),
    "nvidia": CompatRow(
        "https://integrate.api.nvidia.com/v1",
        "NVIDIA_API_KEY",
        default_models=("meta/llama-3.1-8b-instruct",),
    ),
    "sambanova": CompatRow("https://api.sambanova.ai/v1", "SAMBANOVA_API_KEY"),
    "jina": CompatRow("https://api.jina.ai/v1", "JINA_API_KEY"),
    "infinity": CompatRow("http://127.0.0.1:7997", None, auth="none", local=True),
    "nebius": CompatRow("https://api.studio.nebius.com/v1", "NEBIUS_API_KEY"),
    "moonshot": CompatRow("https://api.moonshot.ai/v1", "MOONSHOT_API_KEY"),
    "novita": CompatRow("https://api.novita.ai/v3/openai", "NOVITA_API_KEY"),
    "ollama": CompatRow("http://127.0.0.1:11434/v1", None, auth="none", local=True),
    "vllm": CompatRow("http://127.0.0.1:8000/v1", None, auth="none", local=True),
    "lmstudio": CompatRow("http://127.0.0.1:1234/v1", None, auth="none", local=True),
    "llamacpp": CompatRow("http://127.0.0.1:8080/v1", None, auth="none", local=True),
}

# Fields the gateway consumes itself and never forwards.
GATEWAY_FIELDS = frozenset({"models", "route", "unigate", RESPONSES_REQUEST})


def serves_responses(deployment: Deployment) -> bool:
    """Whether a deployment takes Responses API requests natively (its row's flag, or the
    deployment's ``responses_api`` option)."""
    row = COMPAT_PROVIDERS.get(deployment.provider)
    return row is not None and bool(deployment.option("responses_api", row.responses_api))


# ---------------------------------------------------------------------------------------------
# Pure translation


def to_native(request: ChatRequest, deployment: Deployment, row: CompatRow, stream: bool) -> dict[str, Any]:
    """The upstream body: the client's request with the upstream model id, gateway fields and
    the row's unsupported fields removed, and usage requested on streams."""
    body = {k: v for k, v in as_json(request).items() if k not in GATEWAY_FIELDS and k not in row.drop_params}
    body["model"] = deployment.model
    if stream:
        body["stream"] = True
        if row.stream_usage:
            options = dict(body.get("stream_options") or {})
            options["include_usage"] = True
            body["stream_options"] = options
    else:
        if "stream" in body:
            body["stream"] = False  # kept as the client sent it; some upstreams echo it in logs
        body.pop("stream_options", None)
    return body


def _normalize_message(message: dict[str, Any]) -> None:
    # Groq, OpenRouter and Ollama say "reasoning"; DeepSeek says "reasoning_content".
    reasoning = message.get("reasoning")
    if reasoning and isinstance(reasoning, str) and not message.get("reasoning_content"):
        message["reasoning_content"] = reasoning
    for call in message.get("tool_calls") or ():
        if not call.get("id"):
            call["id"] = "call_" + uuid.uuid4().hex[:24]
        call.setdefault("type", "function")


def from_native(body: dict[str, Any], public_model: str) -> ChatResponse:
    if not isinstance(body, dict) or not isinstance(body.get("choices"), list):
        raise UpstreamServerError("upstream reply has no choices", status=502, raw=orjson.dumps(body)[:2000])
    for choice in body["choices"]:
        message = choice.get("message")
        if isinstance(message, dict):
            _normalize_message(message)
    body["model"] = public_model
    body.setdefault("object", "chat.completion")
    return cast(ChatResponse, body)  # the upstream speaks the canonical form, normalised above


def from_native_event(data: bytes, public_model: str) -> ChatChunk | None:
    """One SSE ``data:`` payload → a canonical chunk (``None`` for ``[DONE]``)."""
    if data == b"[DONE]":
        return None
    chunk = orjson.loads(data)
    if chunk.get("error"):
        # some upstreams report mid-stream failures as an error event (Groq), or as a chunk that
        # carries both an error and a final choice (OpenRouter)
        error = chunk["error"]
        code = (error.get("status_code") or error.get("code")) if isinstance(error, dict) else None
        status = code if isinstance(code, int) and 400 <= code < 600 else 500
        raise parse_error("upstream", status, data)
    for choice in chunk.get("choices") or ():
        delta = choice.get("delta")
        if isinstance(delta, dict):
            reasoning = delta.get("reasoning")
            if reasoning and isinstance(reasoning, str) and not delta.get("reasoning_content"):
                delta["reasoning_content"] = reasoning
    chunk["model"] = public_model
    return chunk


_CONTEXT_MARKERS = (
    "context_length_exceeded",
    "maximum context length",
    "context length",
    "too many tokens",
    "prompt is too long",
    "reduce the length",
    "context window",
)


def parse_error(provider: str, status: int, raw: bytes, headers: Any = None) -> ProviderError:
    """An OpenAI-style error body → the error tree, keeping the upstream's message."""
    message = ""
    code: str | None = None
    try:
        body = orjson.loads(raw) if raw else {}
        error = body.get("error", body) if isinstance(body, dict) else {}
        if isinstance(error, dict):
            message = str(error.get("message") or error.get("detail") or "")
            code = error.get("code") or error.get("type")
            code = str(code) if code is not None else None
        elif isinstance(error, str):
            message = error
    except (orjson.JSONDecodeError, AttributeError):
        message = raw[:500].decode(errors="replace")
    message = message or f"upstream returned HTTP {status}"
    lowered = message.lower()
    text = f"{provider}: {message}"
    if status in (400, 413, 422) and (code == "context_length_exceeded" or any(m in lowered for m in _CONTEXT_MARKERS)):
        return ContextWindowExceeded(text, provider=provider, status=status, raw=raw)
    if code == "content_filter" or "content management policy" in lowered or "content_policy" in (code or ""):
        return ContentFiltered(text, provider=provider, status=status, raw=raw)
    return classify_http_status(
        status, text, provider=provider, raw=raw, retry_after=parse_retry_after(headers), code=code
    )


# ---------------------------------------------------------------------------------------------
# I/O


class OpenAICompatProvider(OpenAIMediaMixin):
    """One instance per row; the deployment says which model, base URL and key to use.
    Audio, images, moderation and rerank come from :class:`OpenAIMediaMixin`."""

    def __init__(self, name: str, row: CompatRow, context: ProviderContext) -> None:
        self.name = name
        self.row = row
        self.http = context.http

    def _headers(self, deployment: Deployment) -> dict[str, str]:
        headers = {"content-type": "application/json"}
        if deployment.api_key and self.row.auth == "bearer":
            headers["authorization"] = "Bearer " + deployment.api_key
        elif deployment.api_key and self.row.auth == "api-key":
            headers["api-key"] = deployment.api_key
        headers.update(deployment.headers)
        return headers

    def _url(self, deployment: Deployment, path: str) -> str:
        base = deployment.api_base or self.row.base_url
        if self.row.azure:
            version = deployment.option("api_version", "2024-10-21")
            if base.rstrip("/").endswith("/openai/v1"):
                return join_url(base, path)
            return join_url(base, f"openai/deployments/{deployment.model}/{path}") + f"?api-version={version}"
        return join_url(base, path)

    def _parse_error(self, status: int, raw: bytes, headers: Any) -> ProviderError:
        return parse_error(self.name, status, raw, headers)

    async def chat(self, request: ChatRequest, deployment: Deployment) -> ChatResponse:
        if openai_responses.wants_native(request) and serves_responses(deployment):
            return await self._responses(request, deployment)
        body = orjson.dumps(to_native(request, deployment, self.row, stream=False))
        reply = await post_json(
            self.http,
            self._url(deployment, "chat/completions"),
            body,
            self._headers(deployment),
            deployment.timeouts,
            self.name,
            self._parse_error,
        )
        try:
            return from_native(reply, deployment.public_name)
        except ProviderError as exc:
            exc.provider = self.name
            raise

    async def chat_stream(self, request: ChatRequest, deployment: Deployment) -> AsyncIterator[ChatChunk]:
        if openai_responses.wants_native(request) and serves_responses(deployment):
            async for native_chunk in self._responses_stream(request, deployment):
                yield native_chunk
            return
        body = orjson.dumps(to_native(request, deployment, self.row, stream=True))
        async with open_stream(
            self.http,
            self._url(deployment, "chat/completions"),
            body,
            self._headers(deployment),
            deployment.timeouts,
            self.name,
            self._parse_error,
        ) as resp:
            async for _event, data in iter_sse(resp, self.name):
                try:
                    chunk = from_native_event(data, deployment.public_name)
                except orjson.JSONDecodeError as exc:
                    raise ProviderError(
                        f"{self.name}: malformed stream event",
                        provider=self.name,
                        status=502,
                        raw=data[:2000],
                    ) from exc
                except ProviderError as exc:
                    exc.provider = self.name
                    raise
                if chunk is None:
                    return
                yield chunk

    async def _responses(self, request: ChatRequest, deployment: Deployment) -> ChatResponse:
        body = orjson.dumps(openai_responses.to_native(request, deployment, stream=False))
        reply = await post_json(
            self.http,
            self._url(deployment, "responses"),
            body,
            self._headers(deployment),
            deployment.timeouts,
            self.name,
            self._parse_error,
        )
        return openai_responses.from_native(reply, deployment.public_name)

    async def _responses_stream(self, request: ChatRequest, deployment: Deployment) -> AsyncIterator[ChatChunk]:
        body = orjson.dumps(openai_responses.to_native(request, deployment, stream=True))
        reader = openai_responses.EventReader(deployment.public_name)
        async with open_stream(
            self.http,
            self._url(deployment, "responses"),
            body,
            self._headers(deployment),
            deployment.timeouts,
            self.name,
            self._parse_error,
        ) as resp:
            async for _event, data in iter_sse(resp, self.name):
                if data == b"[DONE]":
                    return
                try:
                    yield reader.feed(data)
                except orjson.JSONDecodeError as exc:
                    raise ProviderError(
                        f"{self.name}: malformed stream event", provider=self.name, status=502, raw=data[:2000]
                    ) from exc
                if reader.done:
                    return

    async def embed(self, request: EmbeddingRequest, deployment: Deployment) -> EmbeddingResponse:
        body = {k: v for k, v in request.items() if k not in GATEWAY_FIELDS}
        body["model"] = deployment.model
        reply: dict[str, Any] = await post_json(
            self.http,
            self._url(deployment, "embeddings"),
            orjson.dumps(body),
            self._headers(deployment),
            deployment.timeouts,
            self.name,
            self._parse_error,
        )
        reply["model"] = deployment.public_name
        return cast(EmbeddingResponse, reply)
