"""Native pass-through, the provider side: where each provider's own API lives, how its key is
sent, which model a native request names, and the usage in a native answer. The server module
(``server/passthrough_api.py``) only routes, admits and relays; what it relays is redacted here.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote

import orjson

from unigate.providers.anthropic.response import usage_from_native as anthropic_usage
from unigate.providers.gemini.response import usage_from_native as gemini_usage
from unigate.providers.openai_compat import COMPAT_PROVIDERS
from unigate.providers.shell import REDACTED
from unigate.types import Usage

_NATIVE_BASES = {
    "anthropic": "https://api.anthropic.com",
    "gemini": "https://generativelanguage.googleapis.com",
    "cohere": "https://api.cohere.com",
}
# request headers never forwarded: the client's credentials, hop-by-hop and recomputed ones
_DROP = frozenset(
    {
        "authorization",
        "x-api-key",
        "x-goog-api-key",
        "api-key",
        "host",
        "content-length",
        "connection",
        "keep-alive",
        "transfer-encoding",
        "te",
        "upgrade",
        "cookie",
        "accept-encoding",
        "proxy-authorization",
    }
)
_GEMINI_MODEL = re.compile(r"models/([^/:]+)")
_BEDROCK_MODEL = re.compile(r"^model/([^/]+)/")
# Bedrock requests are signed (SigV4): only these client headers go upstream, signed with them
BEDROCK_HEADERS = ("content-type", "accept")
BEDROCK_HEADER_PREFIX = "x-amzn-bedrock-"


def providers() -> list[str]:
    """Every provider whose own API can be passed through, in route order."""
    return ["openai", "anthropic", "gemini", "cohere", "bedrock", *(p for p in COMPAT_PROVIDERS if p != "openai")]


def bedrock_headers(headers: dict[str, str]) -> dict[str, str]:
    return {
        k.lower(): v
        for k, v in headers.items()
        if k.lower() in BEDROCK_HEADERS or k.lower().startswith(BEDROCK_HEADER_PREFIX)
    }


def signs_requests(provider: str) -> bool:
    """Whether the provider's API takes a per-request signature (Bedrock: SigV4) instead of a key."""
    return provider == "bedrock"


class Signer:
    """Signs a pass-through request for a provider that needs it (Bedrock's runtime API: SigV4
    with the AWS credential chain or the configured keys, or a Bedrock API key as a bearer
    token). Gives the URL, the headers as signed, and the secret to keep out of what is relayed."""

    def __init__(self) -> None:
        self._credentials: Any = None  # AWS credentials, resolved on first use

    async def sign(
        self,
        request_headers: dict[str, str],
        method: str,
        path: str,
        body: bytes,
        base: str | None,
        key: str | None,
        options: dict[str, Any],
    ) -> tuple[Any, dict[str, str], str | None]:
        from unigate.providers.bedrock.auth import CredentialCache, bearer_token  # loads botocore
        from unigate.providers.bedrock.request import authorized, region_of
        from unigate.providers.shell import encoded_url
        from unigate.types import Deployment

        deployment = Deployment(
            id="passthrough:bedrock",
            public_name="bedrock",
            provider="bedrock",
            model="passthrough",
            api_base=base,
            api_key=key,
            options=tuple(options.items()),
        )
        region = region_of(deployment)
        root = (base or f"https://bedrock-runtime.{region}.amazonaws.com").rstrip("/")
        if self._credentials is None:
            self._credentials = CredentialCache()
        call = await authorized(
            f"{root}/{path}", body, bedrock_headers(request_headers), deployment, region, self._credentials, method
        )
        secret = bearer_token(deployment) or (call.secrets[0] if call.secrets else None)
        return encoded_url(call.url), call.headers, secret


def default_base(provider: str) -> str | None:
    row = COMPAT_PROVIDERS.get(provider)
    return row.base_url if row is not None else _NATIVE_BASES.get(provider)


def forwarded_headers(headers: dict[str, str]) -> dict[str, str]:
    """The client's request headers minus its credentials and the hop-by-hop ones."""
    return {k: v for k, v in headers.items() if k.lower() not in _DROP}


def upstream_auth(provider: str, key: str | None) -> dict[str, str]:
    if not key:
        return {}
    if provider == "anthropic":
        return {"x-api-key": key}
    if provider == "gemini":
        return {"x-goog-api-key": key}
    row = COMPAT_PROVIDERS.get(provider)
    if row is not None and row.auth == "api-key":
        return {"api-key": key}
    if row is not None and row.auth == "none":
        return {}
    return {"authorization": "Bearer " + key}


class Redactor:
    """Removes the provider key from relayed bytes, also when a stream splits it across pieces:
    the last ``len(key) - 1`` bytes wait for the next piece."""

    def __init__(self, key: str | None) -> None:
        self.secret = key.encode() if key and len(key) >= 8 else b""
        self.held = b""

    def whole(self, data: bytes) -> bytes:
        return data.replace(self.secret, REDACTED.encode()) if self.secret else data

    def piece(self, data: bytes) -> bytes:
        if not self.secret:
            return data
        data = (self.held + data).replace(self.secret, REDACTED.encode())
        keep = len(self.secret) - 1
        self.held, out = data[-keep:], data[:-keep]
        return out

    def rest(self) -> bytes:
        held, self.held = self.held, b""
        return held


def model_of(provider: str, path: str, body: Any) -> str | None:
    if isinstance(body, dict) and isinstance(body.get("model"), str):
        return body["model"]
    if provider == "gemini":
        found = _GEMINI_MODEL.search(path)
        if found:
            return found.group(1)
    if provider == "bedrock":  # runtime paths: model/{modelId}/converse, …/invoke, …-stream
        found = _BEDROCK_MODEL.search(path)
        if found:
            return unquote(found.group(1))
    return None


def usage_of(provider: str, payload: Any) -> Usage | None:
    """Token usage in the provider's own answer shape (or one stream event), if it has any."""
    if not isinstance(payload, dict):
        return None
    if provider == "gemini":
        return gemini_usage(payload.get("usageMetadata"))
    metrics = payload.get("amazon-bedrock-invocationMetrics")  # the last InvokeModel stream chunk
    if provider == "bedrock" and isinstance(metrics, dict):
        prompt, completion = int(metrics.get("inputTokenCount") or 0), int(metrics.get("outputTokenCount") or 0)
        return Usage(prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion)
    usage = payload.get("usage")
    if usage is None and isinstance(payload.get("message"), dict):  # Anthropic message_start
        usage = payload["message"].get("usage")
    if usage is None and isinstance(payload.get("response"), dict):  # Responses stream events
        usage = payload["response"].get("usage")
    if not isinstance(usage, dict):
        return None
    if provider == "bedrock" and "inputTokens" in usage:  # Converse, ConverseStream's metadata
        from unigate.providers.bedrock.response import usage_from_native as bedrock_usage  # loads botocore

        return bedrock_usage(usage)
    if provider in ("anthropic", "bedrock") and ("input_tokens" in usage or "output_tokens" in usage):
        return anthropic_usage(usage)  # Claude's own body, through Bedrock's InvokeModel
    if "prompt_tokens" in usage:
        return Usage(
            prompt_tokens=int(usage.get("prompt_tokens") or 0),
            completion_tokens=int(usage.get("completion_tokens") or 0),
            total_tokens=int(usage.get("total_tokens") or 0),
        )
    if "input_tokens" in usage:  # the Responses API
        prompt, completion = int(usage.get("input_tokens") or 0), int(usage.get("output_tokens") or 0)
        return Usage(prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion)
    return None


def merge_usage(old: Usage | None, new: Usage | None) -> Usage | None:
    """Streams report usage in parts (Anthropic: input at the start, output at the end)."""
    if new is None:
        return old
    if old is None:
        return new
    merged: Usage = {**old}
    merged["prompt_tokens"] = max(old.get("prompt_tokens", 0), new.get("prompt_tokens", 0))
    merged["completion_tokens"] = max(old.get("completion_tokens", 0), new.get("completion_tokens", 0))
    merged["total_tokens"] = merged["prompt_tokens"] + merged["completion_tokens"]
    if new.get("prompt_tokens_details"):
        merged["prompt_tokens_details"] = new["prompt_tokens_details"]
    return merged


class SseReader:
    """The JSON of each ``data:`` line of a server-sent event stream that may carry usage."""

    def __init__(self) -> None:
        self.pending = b""

    def feed(self, piece: bytes) -> Iterator[Any]:
        self.pending += piece
        *complete, self.pending = self.pending.split(b"\n")
        for line in complete:
            if line.startswith(b"data:") and b"sage" in line:  # usage / usageMetadata
                try:
                    yield orjson.loads(line[5:].strip())
                except orjson.JSONDecodeError:
                    continue


class AwsEventReader:
    """The JSON payload of each message of an AWS event stream (Bedrock's ConverseStream and
    InvokeModelWithResponseStream, whose chunks wrap the model's own JSON in base64 ``bytes``)."""

    def __init__(self) -> None:
        from botocore.eventstream import EventStreamBuffer  # only Bedrock loads botocore

        self.buffer = EventStreamBuffer()

    def feed(self, piece: bytes) -> Iterator[Any]:
        self.buffer.add_data(piece)
        for message in self.buffer:
            try:
                payload = orjson.loads(message.payload)
                if isinstance(payload, dict) and isinstance(payload.get("bytes"), str):
                    payload = orjson.loads(base64.b64decode(payload["bytes"]))
            except (orjson.JSONDecodeError, ValueError):
                continue
            yield payload
