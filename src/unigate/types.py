"""The canonical form: request, response and stream-chunk types, typed.

The canonical form *is* the OpenAI chat-completions wire schema, kept as plain dicts: the hot
path parses a request body once with orjson and forwards it without a model round-trip, and
every provider translates from/to this one shape. The ``TypedDict``s below (all ``total=False``:
a provider fills what it has) say which keys exist and what they hold, so mypy checks every
translator against them. At run time they are ordinary dicts: no cost, no validation here
(``server/validation.py`` validates what clients send).

Extensions to the OpenAI schema, written down here and nowhere else:

- ``ChatMessage.reasoning_content`` / ``Delta.reasoning_content``: the model's reasoning as text
  (DeepSeek's name; Anthropic/Bedrock/Gemini thinking, Groq/OpenRouter/Ollama ``reasoning`` and
  Mistral ``thinking`` parts are all normalised to it).
- ``ChatMessage.thinking_blocks`` / ``Delta.thinking_blocks``: signed Anthropic-style thinking
  (``thinking`` + ``signature``, or ``redacted_thinking`` + ``data``), kept whole so it can go
  back upstream unchanged in the next turn's history (Anthropic requires it with tools).
- ``PromptTokensDetails.cache_creation_tokens``: prompt tokens written to the provider's prompt
  cache (Anthropic ``cache_creation_input_tokens``, Bedrock ``cacheWriteInputTokens``); they are
  part of ``prompt_tokens``, as ``cached_tokens`` (cache reads) are.
  ``cache_creation_5m_tokens`` / ``cache_creation_1h_tokens`` split them by cache lifetime when
  the upstream says (Anthropic ``cache_creation.ephemeral_5m/1h_input_tokens``): they are priced
  differently.
- ``PromptTokensDetails.audio_tokens`` / ``CompletionTokensDetails.audio_tokens`` and
  ``reasoning_tokens``, ``accepted/rejected_prediction_tokens``: as OpenAI reports them; native
  providers fill ``reasoning_tokens`` (Gemini ``thoughtsTokenCount``, Cohere, …).
- Request: ``reasoning_effort`` accepts ``minimal``…``xhigh``/``max``; Anthropic-native fields
  (``thinking``, ``top_k``, ``cache_control``, ``output_config``, ``anthropic_beta``,
  ``service_tier``) pass through to Anthropic; ``models`` / ``route`` / ``unigate`` are the
  gateway's own fields, consumed before any upstream sees the request.
- For the Responses API surface (``/v1/responses``) and upstreams that speak the Responses API
  natively (they get the client's request and answer without translation):
  ``ChatRequest.unigate_responses_request`` (the client's Responses body, never sent to a chat
  upstream), ``ChatResponse.unigate_responses_object`` (the upstream's own ``response`` object)
  and ``ChatChunk.unigate_responses_event`` (the upstream's own stream event).

A ``Deployment`` is one concrete place a public model name can be served from.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from random import getrandbits
from typing import Any, Final, Literal, TypedDict, cast

JSON = dict[str, Any]
RESPONSES_REQUEST: Final = "unigate_responses_request"
RESPONSES_OBJECT: Final = "unigate_responses_object"
RESPONSES_EVENT: Final = "unigate_responses_event"

# ---------------------------------------------------------------------------------------------
# Content parts (message ``content`` when it is a list)


class ImageUrl(TypedDict, total=False):
    url: str
    detail: str


class FileData(TypedDict, total=False):
    file_data: str  # a data: URL
    file_id: str
    filename: str


class InputAudio(TypedDict, total=False):
    data: str  # base64
    format: str


class ContentPart(TypedDict, total=False):
    """One part of a message's content. ``type`` says which of the other keys is set:
    ``text`` → text, ``image_url`` → image_url, ``file`` → file, ``input_audio`` → input_audio,
    ``refusal`` → refusal. Parts of other types are provider-native blocks passed through."""

    type: str
    text: str
    image_url: ImageUrl
    file: FileData
    input_audio: InputAudio
    refusal: str
    cache_control: JSON  # Anthropic prompt-cache breakpoint, honoured by Anthropic upstreams


Content = str | list[ContentPart] | None


# ---------------------------------------------------------------------------------------------
# Tool calls and tools


class FunctionCall(TypedDict, total=False):
    name: str
    arguments: str  # JSON text


class ToolCall(TypedDict, total=False):
    id: str
    type: str  # "function"
    function: FunctionCall
    # extension (Google's own OpenAI-compatible shape): {"google": {"thought_signature": ...}},
    # which Gemini 3 needs back with the call in the next turn's history
    extra_content: JSON


class ToolCallDelta(TypedDict, total=False):
    """A streamed fragment of a tool call: ``index`` says which call it continues."""

    index: int
    id: str
    type: str
    function: FunctionCall
    extra_content: JSON  # as in ToolCall


class FunctionDefinition(TypedDict, total=False):
    name: str
    description: str
    parameters: JSON  # JSON schema
    strict: bool


class Tool(TypedDict, total=False):
    type: str  # "function"; other types are provider-native tools passed through
    function: FunctionDefinition
    cache_control: JSON


class ThinkingBlock(TypedDict, total=False):
    """Signed reasoning as Anthropic returns it: ``{"type": "thinking", "thinking", "signature"}``
    or ``{"type": "redacted_thinking", "data"}``."""

    type: Literal["thinking", "redacted_thinking"]
    thinking: str
    signature: str
    data: str


# ---------------------------------------------------------------------------------------------
# Messages and the request


class ChatMessage(TypedDict, total=False):
    role: str  # system | developer | user | assistant | tool
    content: Content
    name: str
    tool_calls: list[ToolCall]
    tool_call_id: str  # role "tool": the call this answers
    refusal: str | None
    reasoning_content: str  # extension: reasoning as text
    thinking_blocks: list[ThinkingBlock]  # extension: signed reasoning, round-tripped
    audio: JSON | None
    annotations: list[JSON]


class StreamOptions(TypedDict, total=False):
    include_usage: bool


class ResponseFormat(TypedDict, total=False):
    type: str  # text | json_object | json_schema
    json_schema: JSON  # {"name", "schema", "strict"}


class ChatRequest(TypedDict, total=False):
    """An OpenAI ``/v1/chat/completions`` body. Unknown fields are kept (OpenAI-compatible
    upstreams get them), so code that forwards the whole body treats it as a mapping."""

    model: str
    messages: list[ChatMessage]
    stream: bool
    stream_options: StreamOptions
    max_tokens: int | None
    max_completion_tokens: int | None
    temperature: float | None
    top_p: float | None
    n: int | None
    stop: str | list[str] | None
    presence_penalty: float | None
    frequency_penalty: float | None
    logit_bias: dict[str, float] | None
    logprobs: bool | None
    top_logprobs: int | None
    seed: int | None
    user: str
    tools: list[Tool]
    tool_choice: str | JSON | None
    functions: list[JSON]  # the deprecated form of tools
    function_call: str | JSON
    parallel_tool_calls: bool | None
    response_format: ResponseFormat
    reasoning_effort: str | None
    modalities: list[str]
    audio: JSON
    prediction: JSON
    metadata: JSON
    store: bool | None
    service_tier: str | None
    # Anthropic-native fields an OpenAI-format request may carry to reach Anthropic unchanged
    thinking: JSON
    top_k: int
    cache_control: JSON
    output_config: JSON
    anthropic_beta: str | list[str]
    # the gateway's own fields (consumed before routing; never sent upstream)
    models: list[str]
    route: JSON
    unigate: JSON
    unigate_responses_request: JSON


# ---------------------------------------------------------------------------------------------
# Usage


class PromptTokensDetails(TypedDict, total=False):
    cached_tokens: int  # cache reads, included in prompt_tokens
    cache_creation_tokens: int  # extension: cache writes (all lifetimes), included in prompt_tokens
    cache_creation_5m_tokens: int  # extension: the part written with a 5-minute lifetime
    cache_creation_1h_tokens: int  # extension: the part written with a 1-hour lifetime
    audio_tokens: int
    text_tokens: int
    image_tokens: int


class CompletionTokensDetails(TypedDict, total=False):
    reasoning_tokens: int  # included in completion_tokens
    audio_tokens: int
    text_tokens: int
    accepted_prediction_tokens: int
    rejected_prediction_tokens: int


class Usage(TypedDict, total=False):
    """Token counts of one answer (chat or embeddings). ``prompt_tokens`` counts every input
    token, cached reads and cache writes included; the details say how many of them were which."""

    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    prompt_tokens_details: PromptTokensDetails
    completion_tokens_details: CompletionTokensDetails
    cost: float  # extension: USD, added by the gateway when the price is known
    # extensions for media requests (catalog/media.py prices them)
    audio_seconds: float  # audio transcribed or translated
    characters: int  # text turned into speech
    images: int  # images produced, at image_size / image_quality
    image_size: str
    image_quality: str
    search_units: int  # rerank searches


# ---------------------------------------------------------------------------------------------
# Responses and stream chunks


class Choice(TypedDict, total=False):
    index: int
    message: ChatMessage
    logprobs: JSON | None
    finish_reason: str | None  # stop | length | tool_calls | content_filter | function_call


class ChatResponse(TypedDict, total=False):
    """An OpenAI ``chat.completion`` object."""

    id: str
    object: str  # "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    usage: Usage
    system_fingerprint: str | None
    service_tier: str | None
    unigate_responses_object: JSON  # extension: a native Responses API answer, unchanged


class Delta(TypedDict, total=False):
    role: str
    content: str | None
    refusal: str | None
    tool_calls: list[ToolCallDelta]
    reasoning_content: str  # extension
    thinking_blocks: list[ThinkingBlock]  # extension: whole blocks, sent when each one closes


class ChunkChoice(TypedDict, total=False):
    index: int
    delta: Delta
    logprobs: JSON | None
    finish_reason: str | None


class ChatChunk(TypedDict, total=False):
    """An OpenAI ``chat.completion.chunk``; the usage-only last chunk has ``choices: []``."""

    id: str
    object: str  # "chat.completion.chunk"
    created: int
    model: str
    choices: list[ChunkChoice]
    usage: Usage | None
    system_fingerprint: str | None
    service_tier: str | None
    unigate_responses_event: JSON  # extension: a native Responses API stream event, unchanged


# ---------------------------------------------------------------------------------------------
# Embeddings


class EmbeddingRequest(TypedDict, total=False):
    model: str
    input: str | list[str] | list[int] | list[list[int]]
    encoding_format: str  # float | base64
    dimensions: int
    user: str
    input_type: str  # extension: Cohere-style search_document / search_query / …


class Embedding(TypedDict, total=False):
    object: str  # "embedding"
    index: int
    embedding: list[float] | str


class EmbeddingResponse(TypedDict, total=False):
    object: str  # "list"
    data: list[Embedding]
    model: str
    usage: Usage


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Per-deployment timeouts in seconds: TCP connect, time to first byte/token, whole request."""

    connect: float = 5.0
    first_token: float = 60.0
    total: float = 600.0


@dataclass(frozen=True, slots=True)
class Deployment:
    """One upstream that can serve a public model: a provider, its model id, where and how to call it."""

    id: str  # stable, unique within the gateway: "<public name>#<index>" unless named in config
    public_name: str
    provider: str
    model: str
    api_base: str | None = None
    api_key: str | None = None
    weight: float = 1.0
    headers: tuple[tuple[str, str], ...] = ()
    timeouts: Timeouts = field(default_factory=Timeouts)
    # provider-specific settings (azure api_version, bedrock region, local model path, …)
    options: tuple[tuple[str, Any], ...] = ()
    rpm: int | None = None
    tpm: int | None = None

    def option(self, name: str, default: Any = None) -> Any:
        for key, value in self.options:
            if key == name:
                return value
        return default


def as_json(body: ChatRequest | EmbeddingRequest) -> JSON:
    """The same body seen as a plain dict, for code that treats every operation alike (hooks,
    auto routing). No copy: changes are seen by both views."""
    return cast(JSON, body)


def as_chat_request(body: JSON) -> ChatRequest:
    """A validated client body seen through the canonical type (no copy, no check: validation
    is ``server/validation.py``'s job)."""
    return cast(ChatRequest, body)


def as_embedding_request(body: JSON) -> EmbeddingRequest:
    return cast(EmbeddingRequest, body)


# Ids need to be unique, not secret: random bits are ~8x cheaper than uuid4 on the hot path.
def new_request_id() -> str:
    """``req_`` + 32 hex digits: 48 bits of milliseconds, then 80 random bits. Ids that grow with
    time make each ledger insert an append to the primary-key index; random ones land anywhere
    in it, and their cost grows with the table (~2x per row at 100k rows already: benchmarks/ledger_ids.py)."""
    return f"req_{time.time_ns() // 1_000_000:012x}{getrandbits(80):020x}"


def new_completion_id() -> str:
    return f"chatcmpl-{getrandbits(96):024x}"


def now() -> int:
    return int(time.time())


def make_usage(prompt: int, completion: int, cached: int = 0, reasoning: int = 0, cache_write: int = 0) -> Usage:
    """``prompt`` counts every input token, cache reads (``cached``) and writes included."""
    usage: Usage = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }
    if cached or cache_write:
        details: PromptTokensDetails = {"cached_tokens": cached}
        if cache_write:
            details["cache_creation_tokens"] = cache_write
        usage["prompt_tokens_details"] = details
    if reasoning:
        usage["completion_tokens_details"] = {"reasoning_tokens": reasoning}
    return usage


def make_response(
    model: str,
    message: ChatMessage,
    finish_reason: str | None,
    usage: Usage | None,
    response_id: str | None = None,
    created: int | None = None,
) -> ChatResponse:
    """Build a one-choice ``chat.completion`` object."""
    response: ChatResponse = {
        "id": response_id or new_completion_id(),
        "object": "chat.completion",
        "created": created or now(),
        "model": model,
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish_reason}],
    }
    if usage is not None:
        response["usage"] = usage
    return response


def make_chunk(
    response_id: str,
    model: str,
    delta: Delta | None,
    finish_reason: str | None = None,
    created: int | None = None,
    usage: Usage | None = None,
) -> ChatChunk:
    """Build a ``chat.completion.chunk``; ``delta=None`` makes the usage-only final chunk."""
    chunk: ChatChunk = {
        "id": response_id,
        "object": "chat.completion.chunk",
        "created": created or now(),
        "model": model,
        "choices": []
        if delta is None
        else [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}],
    }
    if usage is not None:
        chunk["usage"] = usage
    return chunk
