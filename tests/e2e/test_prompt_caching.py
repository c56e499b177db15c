"""Prompt caching end to end through a gateway process: Anthropic ``cache_control`` marks sent on
``/v1/messages`` (and the same marks on OpenAI-format content parts on ``/v1/chat/completions``)
reach an Anthropic upstream intact and a Bedrock upstream as Converse cache points;
``prompt_cache_key`` reaches an OpenAI upstream; cache reads and writes come back in each client
API's own usage shape."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anthropic
import openai
import pytest

from tests.support.agent_upstream import CACHE_WRITE, CACHED
from tests.support.gateway_process import GatewayProcess

MASTER = "sk-caching-master"
MARK = {"type": "ephemeral"}
TOOL = {
    "name": "get_weather",
    "description": "Weather in a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
    "cache_control": MARK,
}


@pytest.fixture(scope="module")
def gateway(agent_upstream: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    def model(name: str, provider: str, upstream_model: str, api_base: str, **options: Any) -> dict[str, Any]:
        deployment = {"provider": provider, "model": upstream_model, "api_base": api_base, "api_key": "sk-up"}
        if options:
            deployment["options"] = options
        return {"name": name, "deployments": [deployment]}

    config = {
        "local_model": {"enabled": False},
        "discover_providers": False,
        "server": {"master_key": MASTER},
        "models": [
            model("claude", "anthropic", "claude-sonnet-4-5", agent_upstream.url),
            model("bedrock-claude", "bedrock", "anthropic.claude-sonnet-4-5", agent_upstream.url, region="us-east-1"),
            model("gpt", "openai", "gpt-up", agent_upstream.base_url),
        ],
    }
    process = GatewayProcess(config=config, workdir=tmp_path_factory.mktemp("caching")).start()
    yield process
    process.stop()


def messages_client(gateway: GatewayProcess) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=gateway.url, api_key=MASTER, max_retries=0)


def chat_client(gateway: GatewayProcess) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.base_url, api_key=MASTER, max_retries=0)


SYSTEM = [
    {"type": "text", "text": "You are terse."},
    {"type": "text", "text": "A long, stable prefix worth caching.", "cache_control": MARK},
]
MESSAGES = [
    {"role": "user", "content": [{"type": "text", "text": "Weather in Paris?", "cache_control": MARK}]},
]


@pytest.mark.parametrize("stream", [False, True])
def test_messages_marks_reach_anthropic_and_usage_is_anthropic_shaped(
    gateway: GatewayProcess, agent_upstream: Any, stream: bool
) -> None:
    kwargs: dict[str, Any] = {"model": "claude", "max_tokens": 64, "system": SYSTEM, "messages": MESSAGES}
    if stream:
        with messages_client(gateway).messages.stream(**kwargs) as events:
            message = events.get_final_message()
    else:
        message = messages_client(gateway).messages.create(**kwargs, tools=[TOOL])
    sent = agent_upstream.bodies("/v1/messages")[-1]
    assert sent["system"] == SYSTEM
    assert sent["messages"][0]["content"][0]["cache_control"] == MARK
    if not stream:
        assert sent["tools"][0]["cache_control"] == MARK
    assert message.usage.cache_read_input_tokens == CACHED
    assert message.usage.cache_creation_input_tokens == CACHE_WRITE
    assert message.usage.input_tokens == 20


def test_messages_marks_reach_bedrock_as_cache_points(gateway: GatewayProcess, agent_upstream: Any) -> None:
    message = messages_client(gateway).messages.create(
        model="bedrock-claude", max_tokens=64, system=SYSTEM, messages=MESSAGES, tools=[TOOL]
    )
    sent = agent_upstream.bodies("/converse")[-1]
    assert sent["system"] == [
        {"text": "You are terse."},
        {"text": SYSTEM[1]["text"]},
        {"cachePoint": {"type": "default"}},
    ]
    assert sent["messages"][0]["content"] == [{"text": "Weather in Paris?"}, {"cachePoint": {"type": "default"}}]
    assert sent["toolConfig"]["tools"][-1] == {"cachePoint": {"type": "default"}}
    assert message.usage.cache_read_input_tokens == CACHED
    assert message.usage.cache_creation_input_tokens == CACHE_WRITE


CHAT_MESSAGES = [
    {
        "role": "system",
        "content": [
            {"type": "text", "text": "You are terse."},
            {"type": "text", "text": "A long, stable prefix worth caching.", "cache_control": MARK},
        ],
    },
    {"role": "user", "content": [{"type": "text", "text": "Weather in Paris?", "cache_control": MARK}]},
]


@pytest.mark.parametrize("model", ["claude", "bedrock-claude"])
def test_chat_content_part_marks_reach_anthropic_and_bedrock(
    gateway: GatewayProcess, agent_upstream: Any, model: str
) -> None:
    completion = chat_client(gateway).chat.completions.create(model=model, messages=CHAT_MESSAGES)  # type: ignore[arg-type]
    if model == "claude":
        sent = agent_upstream.bodies("/v1/messages")[-1]
        assert sent["system"][1] == {"type": "text", "text": SYSTEM[1]["text"], "cache_control": MARK}
        assert sent["messages"][0]["content"][0]["cache_control"] == MARK
    else:
        sent = agent_upstream.bodies("/converse")[-1]
        assert {"cachePoint": {"type": "default"}} in sent["system"]
        assert sent["messages"][0]["content"][-1] == {"cachePoint": {"type": "default"}}
    usage = completion.usage
    assert usage is not None
    assert usage.prompt_tokens == 20 + CACHED + CACHE_WRITE  # every input token, cached ones included
    assert usage.prompt_tokens_details is not None and usage.prompt_tokens_details.cached_tokens == CACHED
    assert usage.prompt_tokens_details.model_extra["cache_creation_tokens"] == CACHE_WRITE


def test_prompt_cache_key_reaches_openai_and_cached_tokens_come_back(
    gateway: GatewayProcess, agent_upstream: Any
) -> None:
    completion = chat_client(gateway).chat.completions.create(
        model="gpt", messages=[{"role": "user", "content": "hi"}], prompt_cache_key="tenant-42"
    )
    assert agent_upstream.bodies("/v1/chat/completions")[-1]["prompt_cache_key"] == "tenant-42"
    assert completion.usage is not None and completion.usage.prompt_tokens_details is not None
    assert completion.usage.prompt_tokens_details.cached_tokens == CACHED
    response = chat_client(gateway).responses.create(model="gpt", input="hi", prompt_cache_key="tenant-42")
    assert agent_upstream.bodies("/v1/responses")[-1]["prompt_cache_key"] == "tenant-42"
    assert response.usage is not None and response.usage.input_tokens_details.cached_tokens == CACHED
