"""Canonical chat answers → Responses objects and stream events."""

from __future__ import annotations

from unigate.responses.convert import ToolRef
from unigate.responses.render import StreamRenderer, output_items, usage
from unigate.types import make_chunk


def test_usage_details_and_cache_writes() -> None:
    got = usage(
        {
            "prompt_tokens": 30,
            "completion_tokens": 7,
            "total_tokens": 37,
            "prompt_tokens_details": {"cached_tokens": 10, "cache_creation_tokens": 5},
            "completion_tokens_details": {"reasoning_tokens": 3},
        }
    )
    assert got == {
        "input_tokens": 30,
        "input_tokens_details": {"cached_tokens": 10, "cache_creation_tokens": 5},
        "output_tokens": 7,
        "output_tokens_details": {"reasoning_tokens": 3},
        "total_tokens": 37,
    }


def test_output_items_map_calls_back_to_the_clients_tools() -> None:
    chat = {
        "choices": [
            {
                "message": {
                    "role": "assistant",
                    "content": "hi",
                    "reasoning_content": "why",
                    "tool_calls": [
                        {"id": "c1", "type": "function", "function": {"name": "ns__f", "arguments": "{}"}},
                        {"id": "c2", "type": "function", "function": {"name": "patch", "arguments": '{"input": "P"}'}},
                    ],
                },
                "finish_reason": "tool_calls",
            }
        ]
    }
    names = {"ns__f": ToolRef("f", "ns"), "patch": ToolRef("patch", None, True)}
    items, finish = output_items(chat, names)
    assert finish == "tool_calls"
    assert [i["type"] for i in items] == ["reasoning", "message", "function_call", "custom_tool_call"]
    assert items[2]["name"] == "f" and items[2]["namespace"] == "ns"
    assert items[3]["input"] == "P" and items[3]["call_id"] == "c2"


def test_stream_events_are_numbered_and_nested() -> None:
    renderer = StreamRenderer({"model": "m"}, "resp_1", "m", names={"patch": ToolRef("patch", None, True)})
    events = renderer.start()
    events += renderer.feed(make_chunk("x", "m", {"content": "Hel"}))
    events += renderer.feed(make_chunk("x", "m", {"content": "lo"}))
    call = {"index": 0, "id": "c", "type": "function", "function": {"name": "patch", "arguments": '{"input":'}}
    events += renderer.feed(make_chunk("x", "m", {"tool_calls": [call]}))
    events += renderer.feed(make_chunk("x", "m", {"tool_calls": [{"index": 0, "function": {"arguments": '"P"}'}}]}))
    events += renderer.feed(make_chunk("x", "m", {}, "tool_calls"))
    events += renderer.finish()
    kinds = [e["type"] for e in events]
    assert kinds == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.output_item.added",
        "response.custom_tool_call_input.delta",
        "response.custom_tool_call_input.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    final = events[-1]["response"]
    assert final["output"][0]["content"][0]["text"] == "Hello"
    assert final["output"][1] == {
        "id": final["output"][1]["id"],
        "type": "custom_tool_call",
        "status": "completed",
        "call_id": "c",
        "name": "patch",
        "input": "P",
    }


def test_a_length_stop_is_incomplete() -> None:
    renderer = StreamRenderer({"model": "m"}, "resp_1", "m")
    renderer.start()
    renderer.feed(make_chunk("x", "m", {"content": "cut"}, "length"))
    last = renderer.finish()[-1]
    assert last["type"] == "response.incomplete"
    assert last["response"]["incomplete_details"] == {"reason": "max_output_tokens"}
