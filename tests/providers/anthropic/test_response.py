"""anthropic: upstream replies → the canonical response.

Anthropic translation checked against recorded real traffic, plus a real-HTTP replay upstream.

Each ``Case`` is an OpenAI-format conversation with the same meaning as one recorded exchange
(or a multi-turn run of them, where later turns send back what earlier replies returned, as a
client would). ``to_native`` must produce the recorded request body; the recorded reply must come
back with the recorded text, tool calls, reasoning, finish reason and usage.
"""

from __future__ import annotations

import pytest
from openai.types.chat import ChatCompletion

from tests.providers.anthropic.support import CASES, Case, check_message, conversation
from tests.providers.conftest import load_recording, recorded_response_body
from unigate.providers.anthropic import (
    from_native,
)


@pytest.mark.parametrize("case", [c for c in CASES if not c.extra.get("stream")], ids=lambda c: c.id)
def test_response_translation(case: Case) -> None:
    used, _ = conversation(case)
    for turn, interaction in zip(case.turns, used, strict=True):
        response = from_native(recorded_response_body(interaction), "claude")
        ChatCompletion.model_validate(response)
        assert response["model"] == "claude"
        choice = response["choices"][0]
        check_message(turn, choice["message"], choice["finish_reason"], response["usage"])


def test_thinking_blocks_round_trip() -> None:
    # signed thinking is exposed as reasoning and kept whole for the next turn
    interaction = load_recording("anthropic", "test_anthropic_output_tool_with_thinking.yaml")[0]
    native = recorded_response_body(interaction)
    message = from_native(native, "claude")["choices"][0]["message"]
    assert message["reasoning_content"] == native["content"][0]["thinking"]
    assert message["thinking_blocks"] == [
        {
            "type": "thinking",
            "thinking": native["content"][0]["thinking"],
            "signature": native["content"][0]["signature"],
        }
    ]
    assert "3 + 3 = 6" not in message["content"]


def test_redacted_thinking_is_kept_out_of_content() -> None:
    interaction = load_recording("anthropic", "test_anthropic_model_thinking_part_redacted.yaml")[0]
    native = recorded_response_body(interaction)
    message = from_native(native, "claude")["choices"][0]["message"]
    assert "reasoning_content" not in message
    assert message["thinking_blocks"] == [{"type": "redacted_thinking", "data": native["content"][0]["data"]}]
    assert native["content"][0]["data"] not in message["content"]


def test_server_tool_blocks_are_not_client_tool_calls() -> None:
    interaction = load_recording("anthropic", "test_anthropic_server_tool_receive_history_from_another_provider.yaml")[
        1
    ]
    message = from_native(recorded_response_body(interaction), "claude")["choices"][0]["message"]
    assert "tool_calls" not in message
    assert message["content"] == "Let me calculate that for you!**37,170 × 12,390 = 460,536,300**"
