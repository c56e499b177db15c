"""Embeddings as a pipeline operation (``POST /v1/embeddings`` is its surface)."""

from __future__ import annotations

from unigate.errors import Unsupported
from unigate.operations import Operation
from unigate.providers.base import EmbeddingProvider, Provider
from unigate.types import Deployment, EmbeddingRequest, EmbeddingResponse


async def embed(provider: Provider, request: EmbeddingRequest, deployment: Deployment) -> EmbeddingResponse:
    if not isinstance(provider, EmbeddingProvider):
        raise Unsupported(f"model '{request['model']}' does not support embeddings", param="model")
    return await provider.embed(request, deployment)


EMBEDDINGS: Operation[EmbeddingRequest, EmbeddingResponse] = Operation("embeddings", embed)
