"""Responses API request → canonical chat request."""

from __future__ import annotations

import pytest

from unigate.errors import BadRequest
from unigate.responses.convert import ToolNames, ToolRef, hosted_tools, pack_thinking, to_chat, unpack_thinking


def test_items_fold_into_chat_turns() -> None:
    thinking = [{"type": "thinking", "thinking": "hmm", "signature": "sig"}]
    body = {
        "model": "m",
        "instructions": "Be brief.",
        "input": [
            {"role": "user", "content": [{"type": "input_text", "text": "hi", "cache_control": {"type": "ephemeral"}}]},
            {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "hmm"}],
             "encrypted_content": pack_thinking(thinking)},
            {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "let me look"}]},
            {"type": "function_call", "call_id": "c1", "name": "a", "arguments": "{}"},
            {"type": "function_call", "call_id": "c2", "name": "b", "arguments": "{\"x\": 1}"},
            {"type": "function_call_output", "call_id": "c1", "output": "A"},
            {"type": "function_call_output", "call_id": "c2", "output": [{"type": "input_text", "text": "B"}]},
        ],
    }  # fmt: skip
    messages = to_chat(body, [])["messages"]
    assert messages[0] == {"role": "system", "content": "Be brief."}
    assert messages[1]["content"] == [{"type": "text", "text": "hi", "cache_control": {"type": "ephemeral"}}]
    assistant = messages[2]
    assert assistant["content"] == "let me look"
    assert [c["id"] for c in assistant["tool_calls"]] == ["c1", "c2"]  # one turn, both calls
    assert assistant["reasoning_content"] == "hmm" and assistant["thinking_blocks"] == thinking
    assert messages[3:] == [
        {"role": "tool", "tool_call_id": "c1", "content": "A"},
        {"role": "tool", "tool_call_id": "c2", "content": "B"},
    ]


def test_history_comes_first_and_options_map() -> None:
    history = [{"role": "user", "content": "first"}, {"type": "message", "role": "assistant", "content": "ok"}]
    chat = to_chat(
        {
            "model": "m",
            "input": "second",
            "max_output_tokens": 50,
            "reasoning": {"effort": "high"},
            "text": {"format": {"type": "json_object"}},
            "stream": True,
        },
        history,
    )
    assert [m["content"] for m in chat["messages"]] == ["first", "ok", "second"]
    assert chat["max_tokens"] == 50 and chat["reasoning_effort"] == "high"
    assert chat["response_format"] == {"type": "json_object"}
    assert chat["stream_options"] == {"include_usage": True}


def test_namespaced_and_custom_tools_become_functions_and_are_remembered() -> None:
    names: ToolNames = {}
    tools = [
        {"type": "namespace", "name": "agents", "description": "d", "tools": [{"type": "function", "name": "spawn"}]},
        {"type": "custom", "name": "apply_patch", "description": "a patch"},
        {"type": "web_search"},
    ]
    chat = to_chat({"model": "m", "input": "x", "tools": tools}, [], names)
    assert [t["function"]["name"] for t in chat["tools"]] == ["agents__spawn", "apply_patch"]
    assert chat["tools"][1]["function"]["parameters"]["required"] == ["input"]
    assert names == {"agents__spawn": ToolRef("spawn", "agents"), "apply_patch": ToolRef("apply_patch", None, True)}
    assert hosted_tools({"tools": tools}) == ["web_search"]
    history = [
        {"type": "custom_tool_call", "call_id": "c", "name": "apply_patch", "input": "*** patch"},
        {"type": "custom_tool_call_output", "call_id": "c", "output": "ok"},
    ]
    messages = to_chat({"model": "m", "input": "go on"}, history)["messages"]
    assert messages[0]["tool_calls"][0]["function"] == {"name": "apply_patch", "arguments": '{"input":"*** patch"}'}
    assert messages[1] == {"role": "tool", "tool_call_id": "c", "content": "ok"}


@pytest.mark.parametrize(
    ("item", "param"),
    [
        ({"type": "function_call", "name": "a"}, "input[0]"),
        ({"type": "web_search_call", "id": "ws"}, "input[0].type"),
        ({"role": "user", "content": [{"type": "input_image"}]}, "input[0].content[0].image_url"),
        ({"role": "user"}, "input[0].content"),
    ],
)
def test_bad_items_name_their_path(item: dict, param: str) -> None:
    with pytest.raises(BadRequest) as info:
        to_chat({"model": "m", "input": [item]}, [])
    assert info.value.param == param


def test_thinking_round_trips_only_when_this_gateway_packed_it() -> None:
    blocks = [{"type": "redacted_thinking", "data": "x"}]
    assert unpack_thinking(pack_thinking(blocks)) == blocks
    assert unpack_thinking("gAAAA-some-openai-encrypted-content") is None
