"""openai_compat: upstream replies → the canonical response.

Upstreams already speak the canonical form; these are the normalisations (reasoning field names,
Mistral's typed content parts, missing tool-call ids).
"""

from __future__ import annotations

import copy

from tests.providers.conftest import load_recording, recorded_response_body
from unigate.providers.openai_compat import from_native


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


def test_mistral_typed_parts_become_text_plus_reasoning_content():
    # magistral answers with content = [{"type": "thinking", "thinking": [text parts]}, {"type": "text"}]
    interaction = load_recording("mistral", "test_mistral_model_thinking_part.yaml")[1]
    recorded = recorded_response_body(interaction)
    parts = recorded["choices"][0]["message"]["content"]
    thinking = "".join(p["text"] for p in parts[0]["thinking"])
    message = from_native(copy.deepcopy(recorded), "public")["choices"][0]["message"]
    assert message["content"] == parts[1]["text"]
    assert message["reasoning_content"] == thinking
    assert isinstance(message["content"], str)


def test_content_parts_of_other_kinds_are_left_alone():
    content = [{"type": "text", "text": "a"}, {"type": "image_url", "image_url": {"url": "x"}}]
    body = {"choices": [{"index": 0, "message": {"role": "assistant", "content": list(content)}}]}
    assert from_native(body, "p")["choices"][0]["message"]["content"] == content
