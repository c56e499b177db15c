"""What a request needs: capabilities, a token estimate, the text to score, route overrides."""

from __future__ import annotations

import pytest

from unigate.errors import BadRequest
from unigate.routing.auto.request import DEFAULT_OUTPUT_RESERVE, TOKENS_PER_IMAGE, inspect, pop_route_overrides


def test_plain_text_request():
    needs = inspect({"messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "x" * 400}]})
    assert not (needs.tools or needs.vision or needs.json_schema)
    assert needs.prompt == "x" * 400
    assert needs.prompt_tokens == (400 + 8) // 4 + 2 * 4
    assert needs.output_tokens == DEFAULT_OUTPUT_RESERVE


def test_scores_the_last_user_message_and_counts_images():
    needs = inspect(
        {
            "messages": [
                {"role": "user", "content": "first"},
                {"role": "assistant", "content": "ok"},
                {
                    "role": "user",
                    "content": [{"type": "text", "text": "what is"}, {"type": "image_url", "image_url": {"url": "u"}}],
                },
            ],
            "max_tokens": 50,
        }
    )
    assert needs.vision and needs.prompt == "what is"
    assert needs.prompt_tokens >= TOKENS_PER_IMAGE and needs.output_tokens == 50


@pytest.mark.parametrize(
    ("extra", "tools"),
    [
        ({"tools": [{"type": "function", "function": {"name": "f"}}]}, True),
        ({"tools": [{"type": "function", "function": {"name": "f"}}], "tool_choice": "none"}, False),
        ({}, False),
    ],
)
def test_tools(extra, tools):
    assert inspect({"messages": [{"role": "user", "content": "x"}], **extra}).tools is tools


def test_tool_turns_in_the_conversation_need_tools():
    messages = [
        {"role": "user", "content": "x"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": "1", "type": "function", "function": {"name": "f", "arguments": "{}"}}],
        },
        {"role": "tool", "tool_call_id": "1", "content": "42"},
    ]
    assert inspect({"messages": messages}).tools


def test_json_schema_but_not_json_object():
    schema = {"type": "json_schema", "json_schema": {"name": "s", "schema": {"type": "object"}}}
    assert inspect({"messages": [{"role": "user", "content": "x"}], "response_format": schema}).json_schema
    assert not inspect(
        {"messages": [{"role": "user", "content": "x"}], "response_format": {"type": "json_object"}}
    ).json_schema


def test_route_overrides_are_popped_validated_and_header_privacy_applies():
    request = {"route": {"privacy": {"providers": ["local"]}, "max_price_per_mtok": 2, "other": 1}}
    assert pop_route_overrides(request) == {"privacy": {"providers": ["local"]}, "max_price_per_mtok": 2}
    assert request == {"route": {"other": 1}}
    assert pop_route_overrides({"route": {"privacy": "local-only"}}) == {"privacy": "local-only"}
    for bad in ({"route": {"privacy": "public"}}, {"route": {"min_quality": -1}}, {"route": "x"}):
        with pytest.raises(BadRequest):
            pop_route_overrides(bad)
