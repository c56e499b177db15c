"""Fixtures shared by the whole suite: fake upstreams and gateway subprocesses on loopback."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.fake_media import ThreadedMedia
from tests.support.fake_upstream import FakeUpstream, Mode, ThreadedUpstream
from tests.support.gateway_process import GatewayProcess


@pytest.fixture
def make_upstream() -> Iterator[Callable[..., ThreadedUpstream]]:
    """``make_upstream(default=Mode(...))`` → a fake OpenAI-compatible upstream in its own thread."""
    started: list[ThreadedUpstream] = []

    def make(default: Mode | None = None, name: str = "fake") -> ThreadedUpstream:
        upstream = ThreadedUpstream(FakeUpstream(default=default or Mode(), name=name))
        started.append(upstream)
        return upstream

    yield make
    for upstream in started:
        upstream.stop()


@pytest.fixture
def upstream(make_upstream: Callable[..., ThreadedUpstream]) -> ThreadedUpstream:
    return make_upstream()


@pytest.fixture
def start_gateway(tmp_path: Path) -> Iterator[Callable[..., GatewayProcess]]:
    """``start_gateway(config_dict, env={...})`` → a live ``unigate serve`` subprocess."""
    started: list[GatewayProcess] = []

    def start(
        config: dict[str, Any], env: dict[str, str] | None = None, args: list[str] | None = None
    ) -> GatewayProcess:
        config = {"local_model": {"enabled": False}, **config}
        process = GatewayProcess(config=config, workdir=tmp_path, env=env or {}, args=args or [])
        started.append(process)
        return process.start()

    yield start
    for process in started:
        process.stop()


def openai_model(name: str, api_base: str, **deployment: Any) -> dict[str, Any]:
    """A config ``models`` entry with one OpenAI-compatible deployment."""
    return {
        "name": name,
        "deployments": [{"provider": "openai", "model": name, "api_base": api_base, "api_key": "sk-up", **deployment}],
    }


@pytest.fixture(scope="module")
def agent_upstream() -> Iterator[ThreadedUpstream]:
    """A scripted agent upstream (OpenAI chat, Responses and Anthropic wire formats) that calls
    ``get_weather`` when offered it, then answers with the tool's result."""
    from tests.support.agent_upstream import AgentUpstream

    upstream = ThreadedUpstream(AgentUpstream(calls={"get_weather": {"city": "Paris"}}))  # type: ignore[arg-type]
    yield upstream
    upstream.stop()


@pytest.fixture(scope="module")
def fake() -> Iterator[ThreadedMedia]:
    """The fake media upstream (OpenAI audio, images, moderation; Cohere, Jina and Bedrock rerank;
    Gemini images), one per test module."""
    media = ThreadedMedia()
    yield media
    media.stop()
