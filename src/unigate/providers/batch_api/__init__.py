"""Providers' own Batch APIs (OpenAI, Azure OpenAI, Anthropic): each turns a batch's OpenAI
lines into its provider's format, submits them with the deployment's key, reports progress and
turns the results back into OpenAI batch answers under the lines' own numbers. The batch runner
(``unigate.batches.remote``) drives them through this package only.
"""

from __future__ import annotations

from typing import Any

from unigate.providers.batch_api._http import RemoteError
from unigate.providers.batch_api.types import (
    ENDPOINTS,
    LEDGER_ENDPOINT,
    LEDGER_SURFACE,
    PROVIDERS,
    NativeBatches,
    Outcome,
    Progress,
    native_deployment,
)
from unigate.types import Deployment

__all__ = [
    "ENDPOINTS",
    "LEDGER_ENDPOINT",
    "LEDGER_SURFACE",
    "PROVIDERS",
    "NativeBatches",
    "Outcome",
    "Progress",
    "RemoteError",
    "client_for",
    "native_deployment",
]


def client_for(http: Any, deployment: Deployment, endpoint: str) -> NativeBatches:
    """The Batch API client of the deployment's provider."""
    if deployment.provider == "anthropic":
        from unigate.providers.batch_api.anthropic import AnthropicBatches

        return AnthropicBatches(http, deployment, endpoint)
    from unigate.providers.batch_api.openai import OpenAIBatches

    return OpenAIBatches(http, deployment, endpoint)
