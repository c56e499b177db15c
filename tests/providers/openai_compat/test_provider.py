"""openai_compat: the provider end to end over real HTTP (recordings replayed, the shell's I/O).

The OpenAI-compatible family: pure translation, error classes, and every OpenAI-family
recording replayed over real HTTP through the provider.
"""

from __future__ import annotations

import json
from pathlib import Path

import aiohttp
import pytest

from tests.providers.conftest import RECORDINGS, load_recording, recorded_request_body, recorded_response_body
from unigate.errors import (
    ProviderError,
    UpstreamServerError,
)
from unigate.providers import openai_compat
from unigate.providers.base import ProviderContext
from unigate.providers.openai_compat import COMPAT_PROVIDERS, OpenAICompatProvider
from unigate.types import Deployment

OPENAI_FAMILY = ("openai", "groq", "openrouter", "deepseek", "cerebras", "huggingface", "ollama", "mistral")


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
    assert frozenset({"models", "route", "unigate", "unigate_responses_request"}) == openai_compat.GATEWAY_FIELDS
