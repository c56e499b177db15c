"""What the embedded engine produced → the canonical response and embeddings response."""

from __future__ import annotations

import base64
from typing import Any

from unigate.providers.local.engine import Outcome
from unigate.types import (
    ChatMessage,
    ChatResponse,
    Deployment,
    Embedding,
    EmbeddingRequest,
    EmbeddingResponse,
    make_response,
    make_usage,
)


def from_outcome(outcome: Outcome, deployment: Deployment) -> ChatResponse:
    message: ChatMessage = {"role": "assistant", "content": outcome.text, "refusal": None}
    usage = make_usage(outcome.prompt_tokens, outcome.completion_tokens)
    return make_response(deployment.public_name, message, outcome.finish_reason, usage)


def embedding_response(
    vectors: list[list[float]], tokens: int, request: EmbeddingRequest, deployment: Deployment
) -> EmbeddingResponse:
    as_base64 = request.get("encoding_format") == "base64"
    data: list[Embedding] = []
    for i, vector in enumerate(vectors):
        value: Any = vector
        if as_base64:
            import numpy as np

            value = base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode()
        data.append({"object": "embedding", "index": i, "embedding": value})
    return {
        "object": "list",
        "data": data,
        "model": deployment.public_name,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }
