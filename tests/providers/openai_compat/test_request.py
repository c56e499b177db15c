"""openai_compat: the canonical request → the upstream call (body, auth header, URL)."""

from __future__ import annotations

import aiohttp
import pytest

from tests.providers.openai_compat.support import deployment
from unigate.providers.base import ProviderContext
from unigate.providers.openai_compat import COMPAT_PROVIDERS, OpenAICompatProvider, to_native
from unigate.providers.openai_compat import request as compat_request


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


@pytest.mark.parametrize("provider", ["ollama", "vllm", "lmstudio", "llamacpp"])
def test_local_servers_send_a_configured_key_as_a_bearer_token(provider):
    row = COMPAT_PROVIDERS[provider]
    assert compat_request.headers(row, deployment(provider, api_key="local-key-123"))["authorization"] == (
        "Bearer local-key-123"
    )
    # and nothing when none is configured (the common local case)
    assert "authorization" not in compat_request.headers(row, deployment(provider))


async def test_an_ollama_cloud_key_reaches_the_server(replay_server):
    reply = {"choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}]}
    base = await replay_server([{"response": {"status": {"code": 200}, "parsed_body": reply}}])
    async with aiohttp.ClientSession() as http:
        provider = OpenAICompatProvider("ollama", COMPAT_PROVIDERS["ollama"], ProviderContext(http=http))
        dep = deployment("ollama", api_base=base + "/v1", api_key="ollama-cloud-key")
        answer = await provider.chat({"messages": [{"role": "user", "content": "q"}]}, dep)
    assert answer["choices"][0]["message"]["content"] == "hi"
    assert replay_server.received[0].headers["authorization"] == "Bearer ollama-cloud-key"


def test_azure_deployment_and_api_version_are_quoted():
    row = COMPAT_PROVIDERS["azure"]
    dep = deployment(
        "azure", model="x/../../admin?", api_base="https://r.openai.azure.com", options=(("api_version", "1&x=2"),)
    )
    assert compat_request.url(row, dep, "chat/completions") == (
        "https://r.openai.azure.com/openai/deployments/x%2F..%2F..%2Fadmin%3F/chat/completions?api-version=1%26x%3D2"
    )
