"""The embedded local model (SmolLM2-135M through llama.cpp) behind the gateway, as a zero-config
user meets it: the openai SDK, streaming and not, embeddings, and the model listing."""

from __future__ import annotations

import openai
import pytest

LOCAL = "local/smollm2-135m"


@pytest.fixture(scope="module")
def gateway(tmp_path_factory):
    from tests.support.gateway_process import GatewayProcess

    # the zero-config defaults, minus provider discovery (so a developer's own keys don't leak in)
    process = GatewayProcess(config={"discover_providers": False}, workdir=tmp_path_factory.mktemp("local"))
    process.start(timeout=120)
    yield process
    process.stop()


@pytest.fixture(scope="module")
def client(gateway):
    return openai.OpenAI(base_url=gateway.base_url, api_key="unused", max_retries=0, timeout=120)


def test_chat_answers_with_exact_usage_and_no_cost(client):
    raw = client.chat.completions.with_raw_response.create(
        model=LOCAL, messages=[{"role": "user", "content": "Say hello."}], max_tokens=8, temperature=0
    )
    completion = raw.parse()
    assert completion.model == LOCAL
    assert completion.choices[0].message.content
    assert completion.choices[0].finish_reason in ("stop", "length")
    assert 0 < completion.usage.completion_tokens <= 8
    assert completion.usage.prompt_tokens > 5
    assert completion.usage.model_extra["cost"] == 0
    assert raw.headers["x-unigate-provider"] == "local"


def test_stream_matches_the_non_streamed_answer(client):
    request = {"model": LOCAL, "messages": [{"role": "user", "content": "Count to three."}], "max_tokens": 8}
    whole = client.chat.completions.create(**request, temperature=0, seed=1).choices[0].message.content
    chunks = list(
        client.chat.completions.create(
            **request, temperature=0, seed=1, stream=True, stream_options={"include_usage": True}
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == whole
    assert len([c for c in chunks if c.choices and c.choices[0].delta.content]) > 1  # tokens as produced
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens <= 8


def test_embeddings_from_the_local_model(client):
    result = client.embeddings.create(model=LOCAL, input=["hello", "world"])
    assert [d.index for d in result.data] == [0, 1]
    assert len(result.data[0].embedding) == len(result.data[1].embedding) > 100
    assert result.data[0].embedding != result.data[1].embedding


def test_listed_with_its_capabilities(client):
    model = client.models.retrieve(LOCAL).model_extra
    assert model["local"] is True
    assert model["capabilities"]["tools"] is False
    assert model["pricing"]["input_per_mtok"] == 0


def test_tools_are_refused_clearly(client):
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(
            model=LOCAL,
            messages=[{"role": "user", "content": "x"}],
            tools=[{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
        )
    assert "tool" in str(info.value).lower()
