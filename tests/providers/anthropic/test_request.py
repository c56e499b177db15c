"""anthropic: the canonical request → the upstream call.

Anthropic translation checked against recorded real traffic, plus a real-HTTP replay upstream.

Each ``Case`` is an OpenAI-format conversation with the same meaning as one recorded exchange
(or a multi-turn run of them, where later turns send back what earlier replies returned, as a
client would). ``to_native`` must produce the recorded request body; the recorded reply must come
back with the recorded text, tool calls, reasoning, finish reason and usage.
"""

from __future__ import annotations

import pytest

from tests.providers.anthropic.support import CASES, Case, conversation, deployment
from tests.providers.conftest import recorded_request_body
from unigate.providers import anthropic
from unigate.providers.anthropic import (
    to_native,
)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_request_matches_recording(case: Case) -> None:
    used, requests = conversation(case)
    for interaction, request in zip(used, requests, strict=True):
        assert interaction["request"]["uri"].startswith("https://api.anthropic.com/v1/messages")
        assert to_native(request, deployment(case.model)) == recorded_request_body(interaction)


def test_urls_and_headers() -> None:
    dep = deployment("claude-sonnet-4-5", api_base="https://proxy.example/v1")
    assert anthropic.messages_url(dep) == "https://proxy.example/v1/messages"
    assert anthropic.messages_url(deployment("m")) == "https://api.anthropic.com/v1/messages"
    headers = anthropic.native_headers({"anthropic_beta": ["a-1", "b-2"]}, dep)
    assert headers["x-api-key"] == "sk-ant-test" and headers["anthropic-version"] == "2023-06-01"
    assert headers["anthropic-beta"] == "a-1,b-2" and "authorization" not in headers
