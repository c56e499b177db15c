"""cohere: upstream replies → the canonical response.

Cohere v2 chat translation checked against recorded real traffic, plus a real-HTTP replay upstream.

The recordings hold non-streamed chats (plain, system prompt, reasoning model with thinking in
the history). Streaming, tool calls and errors have no recording: they are checked against the
event and body shapes of Cohere's v2 API reference ("Chat with Streaming", "Errors").
"""

from __future__ import annotations

from typing import Any

import pytest
from openai.types.chat import ChatCompletion

from tests.providers.cohere.support import CASES
from tests.providers.conftest import load_recording, recorded_response_body
from unigate.errors import (
    UpstreamServerError,
)
from unigate.providers.cohere import from_native


@pytest.mark.parametrize("case", CASES, ids=lambda c: c[0].removesuffix(".yaml"))
def test_response_translation(case: tuple[Any, ...]) -> None:
    name, index, _model, _messages_spec, prefix, reasoning, usage = case
    native = recorded_response_body(load_recording("cohere", name)[index])
    response = from_native(native, "command")
    ChatCompletion.model_validate(response)
    message = response["choices"][0]["message"]
    assert message["content"].startswith(prefix)
    assert response["choices"][0]["finish_reason"] == "stop"
    assert response["id"] == native["id"] and response["model"] == "command"
    assert (response["usage"]["prompt_tokens"], response["usage"]["completion_tokens"]) == usage
    if reasoning:
        assert message["reasoning_content"].startswith("Okay, the user is asking how to cross a river")
        assert "Okay, the user" not in message["content"]
    else:
        assert "reasoning_content" not in message


def test_tool_call_response() -> None:
    native = {
        "id": "r1",
        "finish_reason": "TOOL_CALL",
        "message": {
            "role": "assistant",
            "tool_plan": "I will check the weather.",
            "tool_calls": [
                {
                    "id": "weather_abc",
                    "type": "function",
                    "function": {"name": "weather", "arguments": '{"city":"Paris"}'},
                }
            ],
        },
        "usage": {"billed_units": {"input_tokens": 20, "output_tokens": 11}, "tokens": {"input_tokens": 900}},
    }
    response = from_native(native, "command")
    ChatCompletion.model_validate(response)
    message = response["choices"][0]["message"]
    assert message["content"] == "I will check the weather."
    assert message["tool_calls"] == [
        {
            "id": "weather_abc",
            "type": "function",
            "function": {"name": "weather", "arguments": '{"city":"Paris"}'},
        }
    ]
    assert response["choices"][0]["finish_reason"] == "tool_calls"
    assert response["usage"] == {"prompt_tokens": 20, "completion_tokens": 11, "total_tokens": 31}
    native["finish_reason"] = "MAX_TOKENS"
    assert from_native(native, "command")["choices"][0]["finish_reason"] == "length"
    native["finish_reason"] = "ERROR"
    with pytest.raises(UpstreamServerError):
        from_native(native, "command")
