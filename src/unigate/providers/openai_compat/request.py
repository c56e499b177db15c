"""The canonical request → an OpenAI-compatible upstream call: nearly the identity (the upstream
model id, the gateway's own fields and the row's unsupported fields removed, usage asked for on
streams), the row's auth header, and the URL (Azure: the deployment as one quoted path segment).
"""

from __future__ import annotations

from typing import Any

import orjson

from unigate.providers import openai_responses
from unigate.providers.openai_compat.table import CompatRow
from unigate.providers.shell import Call, join_url, segment
from unigate.types import RESPONSES_REQUEST, ChatRequest, Deployment, EmbeddingRequest, as_json

AZURE_API_VERSION = "2024-10-21"

# Fields the gateway consumes itself and never forwards.
GATEWAY_FIELDS = frozenset({"models", "route", "unigate", RESPONSES_REQUEST})


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


def headers(row: CompatRow, deployment: Deployment) -> dict[str, str]:
    found = {"content-type": "application/json"}
    if deployment.api_key and row.auth == "bearer":
        found["authorization"] = "Bearer " + deployment.api_key
    elif deployment.api_key and row.auth == "api-key":
        found["api-key"] = deployment.api_key
    found.update(deployment.headers)
    return found


def url(row: CompatRow, deployment: Deployment, path: str) -> str:
    base = deployment.api_base or row.base_url
    if row.azure:
        if base.rstrip("/").endswith("/openai/v1"):
            return join_url(base, path)
        version = segment(str(deployment.option("api_version", AZURE_API_VERSION)))
        # The deployment name comes from config or a client's "azure/<name>": one segment, always.
        return join_url(base, f"openai/deployments/{segment(deployment.model)}/{path}") + f"?api-version={version}"
    return join_url(base, path)


def build_call(request: ChatRequest, deployment: Deployment, row: CompatRow, stream: bool) -> Call:
    body = orjson.dumps(to_native(request, deployment, row, stream=stream))
    return Call(url(row, deployment, "chat/completions"), body, headers(row, deployment))


def responses_call(request: ChatRequest, deployment: Deployment, row: CompatRow, stream: bool) -> Call:
    """The client's own Responses API body, for an upstream that speaks it natively."""
    body = orjson.dumps(openai_responses.to_native(request, deployment, stream=stream))
    return Call(url(row, deployment, "responses"), body, headers(row, deployment))


def embedding_call(request: EmbeddingRequest, deployment: Deployment, row: CompatRow) -> Call:
    body: dict[str, Any] = {k: v for k, v in as_json(request).items() if k not in GATEWAY_FIELDS}
    body["model"] = deployment.model
    return Call(url(row, deployment, "embeddings"), orjson.dumps(body), headers(row, deployment))
