"""bedrock: upstream replies → the canonical response.

Bedrock Converse translation checked against real recorded traffic, plus the provider over real
HTTP (SigV4 with fixed fake credentials, bearer API keys, binary event streams).
"""

from __future__ import annotations

from tests.providers.conftest import load_recording, recorded_response_body
from unigate.providers.bedrock import (
    from_native,
)


def test_reply_thinking_blocks_and_cache_usage() -> None:
    interaction = load_recording("bedrock", "test_bedrock_model_thinking_part_anthropic_adaptive_effort.yaml")[0]
    message = from_native(recorded_response_body(interaction), "p")["choices"][0]["message"]
    assert message["thinking_blocks"][0]["signature"].startswith("EpMCCl0IDRAB")
    assert message["reasoning_content"] == message["thinking_blocks"][0]["thinking"]
    redacted = load_recording("bedrock", "test_bedrock_model_thinking_part_redacted.yaml")[0]
    blocks = from_native(recorded_response_body(redacted), "p")["choices"][0]["message"]["thinking_blocks"]
    assert blocks[0]["type"] == "redacted_thinking" and blocks[0]["data"].startswith("RXU4RUNr")
    cache = load_recording("bedrock", "test_bedrock_cache_point_adds_cache_control[claude-sonnet-4-5].yaml")[0]
    assert from_native(recorded_response_body(cache), "p")["usage"]["prompt_tokens"] == 14 + 1503
    assert (
        from_native({"output": {"message": {"content": [{"text": "x"}]}}, "stopReason": "guardrail_intervened"}, "p")[
            "choices"
        ][0]["finish_reason"]
        == "content_filter"
    )
