"""The OpenAI Agents SDK (``openai-agents``) through a gateway process, set up as docs/agents.md
says: an agent with one function tool completes a two-step run (the model calls the tool, then
answers with its result) over the Responses API, with the model behind the gateway being an
OpenAI-compatible chat upstream, an Anthropic upstream (both through the translation) and an
OpenAI upstream with the Responses API (native)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from agents import Agent, OpenAIResponsesModel, RunConfig, Runner, function_tool
from openai import AsyncOpenAI

from tests.support.gateway_process import GatewayProcess

MASTER = "sk-agents-sdk-master"
FORECAST = "sunny, 21C"


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
            model("chat", "openai", "chat-up", agent_upstream.base_url, responses_api=False),
            model("claude", "anthropic", "claude-sonnet-4-5", agent_upstream.url),
            model("native", "openai", "gpt-up", agent_upstream.base_url),
        ],
    }
    process = GatewayProcess(config=config, workdir=tmp_path_factory.mktemp("agents-sdk")).start()
    yield process
    process.stop()


calls: list[str] = []


@function_tool
def get_weather(city: str) -> str:
    """The weather in a city."""
    calls.append(city)
    return FORECAST


def weather_agent(gateway: GatewayProcess, model: str) -> Agent:
    client = AsyncOpenAI(base_url=gateway.base_url, api_key=MASTER, max_retries=0)
    return Agent(
        name="weather",
        instructions="Answer weather questions with the get_weather tool.",
        model=OpenAIResponsesModel(model=model, openai_client=client),
        tools=[get_weather],
    )


UPSTREAM_PATH = {"chat": "/v1/chat/completions", "claude": "/v1/messages", "native": "/v1/responses"}


@pytest.mark.parametrize("model", ["chat", "claude", "native"])
def test_agent_with_a_function_tool_completes_a_two_step_run(
    gateway: GatewayProcess, agent_upstream: Any, model: str
) -> None:
    calls.clear()
    before = len(agent_upstream.bodies(UPSTREAM_PATH[model]))
    result = Runner.run_sync(
        weather_agent(gateway, model), "What is the weather in Paris?", run_config=RunConfig(tracing_disabled=True)
    )
    assert calls == ["Paris"]
    assert result.final_output == f"Done: {FORECAST}"
    assert len(agent_upstream.bodies(UPSTREAM_PATH[model])) - before == 2


@pytest.mark.parametrize("model", ["chat", "claude"])
def test_streamed_agent_run(gateway: GatewayProcess, model: str) -> None:
    calls.clear()

    async def go() -> tuple[str, list[str]]:
        result = Runner.run_streamed(
            weather_agent(gateway, model), "Weather in Paris?", run_config=RunConfig(tracing_disabled=True)
        )
        kinds = [event.type async for event in result.stream_events()]
        return str(result.final_output), kinds

    final, kinds = asyncio.run(go())
    assert calls == ["Paris"]
    assert final == f"Done: {FORECAST}"
    assert "raw_response_event" in kinds and "run_item_stream_event" in kinds
