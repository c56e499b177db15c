"""The OpenAI-compatible family: pure translation, error classes, and every OpenAI-family
recording replayed over real HTTP through the provider."""

from __future__ import annotations

import json
from pathlib import Path

import aiohttp
import pytest

from unigate.errors import (
    ContentFiltered,
    ContextWindowExceeded,
    ProviderError,
    UpstreamRateLimited,
    UpstreamServerError,
)
from unigate.providers import openai_compat
from unigate.providers.base import ProviderContext
from unigate.providers.openai_compat import COMPAT_PROVIDERS, OpenAICompatProvider, from_native, parse_error, to_native
from unigate.providers.openai_compat import request as compat_request
from unigate.types import Deployment

from .conftest import RECORDINGS, load_recording, recorded_request_body, recorded_response_body

OPENAI_FAMILY = ("openai", "groq", "openrouter", "deepseek", "cerebras", "huggingface", "ollama", "mistral")


def deployment(provider: str = "openai", **kwargs) -> Deployment:
    return Deployment(id="d", public_name="public", provider=provider, model=kwargs.pop("model", "up-model"), **kwargs)


def test_to_native_sets_model_strips_gateway_fields_and_asks_for_stream_usage():
    request = {
        "model": "public",
        "messages": [{"role": "user", "content": "hi"}],
        "models": ["a", "b"],
        "route": {"x": 1},
        "logit_bias": {"1": 2},
        "stream": True,
    }
    body = to_native(request, deployment(), COMPAT_PROVIDERS["openai"], stream=True)
    assert body["model"] == "up-model"
    assert "models" not in body and "route" not in body
    assert body["logit_bias"] == {"1": 2}
    assert body["stream_options"] == {"include_usage": True}
    assert request["model"] == "public"  # the client's request is not mutated

    groq = to_native(request, deployment("groq"), COMPAT_PROVIDERS["groq"], stream=False)
    assert "logit_bias" not in groq and groq["stream"] is False and "stream_options" not in groq


def test_every_row_is_complete():
    assert len(COMPAT_PROVIDERS) >= 15
    for name, row in COMPAT_PROVIDERS.items():
        assert row.azure or row.base_url.startswith("http"), name
        assert row.local or row.key_env, f"{name} needs a key variable"


def test_azure_url_and_api_key_header():
    row = COMPAT_PROVIDERS["azure"]
    dep = deployment(
        "azure",
        model="my-gpt4o",
        api_base="https://r.openai.azure.com",
        api_key="k",
        options=(("api_version", "2024-10-21"),),
    )
    assert compat_request.url(row, dep, "chat/completions") == (
        "https://r.openai.azure.com/openai/deployments/my-gpt4o/chat/completions?api-version=2024-10-21"
    )
    headers = compat_request.headers(row, dep)
    assert headers["api-key"] == "k" and "authorization" not in headers


def test_from_native_normalizes_reasoning_and_missing_tool_call_ids():
    body = {
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "reasoning": "because",
                    "tool_calls": [{"id": "", "function": {"name": "f", "arguments": "{}"}}],
                },
                "finish_reason": "tool_calls",
            }
        ]
    }
    response = from_native(body, "public")
    message = response["choices"][0]["message"]
    assert message["reasoning_content"] == "because"
    assert message["tool_calls"][0]["id"].startswith("call_") and message["tool_calls"][0]["type"] == "function"
    assert response["model"] == "public"


@pytest.mark.parametrize(
    ("status", "body", "cls"),
    [
        (
            400,
            {
                "error": {
                    "message": "This model's maximum context length is 8192 tokens",
                    "code": "context_length_exceeded",
                }
            },
            ContextWindowExceeded,
        ),
        (400, {"error": {"message": "Please reduce the length of the messages."}}, ContextWindowExceeded),
        (400, {"error": {"message": "flagged", "code": "content_filter"}}, ContentFiltered),
        (429, {"error": {"message": "Rate limit reached"}}, UpstreamRateLimited),
        (500, {"error": {"message": "oops"}}, UpstreamServerError),
        (400, {"error": {"message": "Invalid 'tools'"}}, ProviderError),
    ],
)
def test_parse_error_classes(status, body, cls):
    error = parse_error("openai", status, json.dumps(body).encode(), {"retry-after": "3"})
    assert type(error) is cls
    assert body["error"]["message"] in error.message
    if cls is UpstreamRateLimited:
        assert error.retry_after == 3


def _recordings() -> list[tuple[str, str]]:
    cases = []
    for provider in OPENAI_FAMILY:
        for path in sorted((RECORDINGS / provider).glob("*.yaml")):
            interactions = load_recording(provider, path.name)
            if all(i["request"]["uri"].split("?")[0].endswith("/chat/completions") for i in interactions):
                cases.append((provider, path.name))
    return cases


def _reply_text(interaction: dict) -> tuple[str | None, list, str | None, dict | None] | None:
    """(text, tool call names, finish reason, usage) of a recorded chat reply, or None for errors/streams."""
    if int(interaction["response"]["status"]["code"]) >= 400:
        return None
    body = recorded_response_body(interaction)
    if isinstance(body, str):
        if "data:" not in body or _has_error_event(body):
            return None  # not JSON at all, or an error event: the gateway must raise it
        body = _collect_stream(body)
    if not isinstance(body, dict) or not body.get("choices"):
        return None
    choice = body["choices"][0]
    message = choice["message"]
    names = [c["function"]["name"] for c in message.get("tool_calls") or []]
    return message.get("content"), names, choice.get("finish_reason"), body.get("usage")


def _events(raw: str) -> list[dict]:
    """The JSON ``data:`` payloads of an SSE body (``event:`` lines ignored)."""
    events = []
    for block in raw.split("\n\n"):
        data = [line[5:].strip() for line in block.splitlines() if line.startswith("data:")]
        if data and data != ["[DONE]"]:
            events.append(json.loads("\n".join(data)))
    return events


def _has_error_event(raw: str) -> bool:
    return any(event.get("error") for event in _events(raw))


def _collect_stream(raw: str) -> dict:
    text, finish, usage, names = "", None, None, {}
    for chunk in _events(raw):
        usage = chunk.get("usage") or usage
        for choice in chunk.get("choices") or []:
            delta = choice.get("delta") or {}
            text += delta.get("content") or ""
            for call in delta.get("tool_calls") or []:
                if (call.get("function") or {}).get("name"):
                    names[call.get("index", 0)] = call["function"]["name"]
            finish = choice.get("finish_reason") or finish
    tool_calls = [{"function": {"name": n}} for _, n in sorted(names.items())]
    return {
        "choices": [{"message": {"content": text or None, "tool_calls": tool_calls}, "finish_reason": finish}],
        "usage": usage,
    }


@pytest.mark.parametrize(("provider", "name"), _recordings())
async def test_recording_replayed_through_provider(replay_server, provider, name):
    interactions = load_recording(provider, name)
    base = await replay_server(interactions)
    async with aiohttp.ClientSession() as http:
        impl = OpenAICompatProvider(provider, COMPAT_PROVIDERS[provider], ProviderContext(http=http))
        for interaction in interactions:
            request = recorded_request_body(interaction)
            uri = interaction["request"]["uri"].split("?")[0]
            path = "/" + uri.split("//", 1)[1].split("/", 1)[1]
            api_base = base + path[: -len("/chat/completions")]
            dep = Deployment(
                id="d", public_name="public", provider=provider, model=request["model"], api_base=api_base, api_key="k"
            )
            expected = _reply_text(interaction)
            if request.get("stream"):
                if expected is None:
                    with pytest.raises(ProviderError):
                        [c async for c in impl.chat_stream(dict(request), dep)]
                    continue
                chunks = [c async for c in impl.chat_stream(dict(request), dep)]
                got = _collect_stream("\n\n".join("data: " + json.dumps(c) for c in chunks))
            else:
                if expected is None:
                    status = int(interaction["response"]["status"]["code"])
                    with pytest.raises(ProviderError) as info:
                        await impl.chat(dict(request), dep)
                    if status >= 400:
                        assert info.value.upstream_status == status
                    else:
                        assert isinstance(info.value, UpstreamServerError)
                    continue
                got = await impl.chat(dict(request), dep)
            sent = replay_server.received[-1]
            assert sent.path == path
            sent_body = sent.json()
            for key, value in request.items():
                # `models` is the gateway's own fallback list (OpenRouter's convention), consumed
                # by routing rather than forwarded; stream_options gains include_usage.
                if key in ("stream_options", "models"):
                    continue
                assert sent_body[key] == value, key
            choice = got["choices"][0]
            text, names, finish, usage = expected
            assert (choice["message"].get("content") or None) == (text or None)
            assert [c["function"]["name"] for c in choice["message"].get("tool_calls") or []] == names
            assert choice["finish_reason"] == finish
            if usage:
                assert got["usage"]["prompt_tokens"] == usage["prompt_tokens"]
                assert got["usage"]["completion_tokens"] == usage["completion_tokens"]


def test_recordings_are_found():
    assert Path(RECORDINGS).is_dir()
    assert len(_recordings()) >= 30
    assert frozenset({"models", "route", "unigate"}) == openai_compat.GATEWAY_FIELDS
