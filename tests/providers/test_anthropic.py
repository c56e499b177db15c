"""Anthropic translation checked against recorded real traffic, plus a real-HTTP replay upstream.

Each ``Case`` is an OpenAI-format conversation with the same meaning as one recorded exchange
(or a multi-turn run of them, where later turns send back what earlier replies returned, as a
client would). ``to_native`` must produce the recorded request body; the recorded reply must come
back with the recorded text, tool calls, reasoning, finish reason and usage.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from unigate.errors import (
    ContextWindowExceeded,
    ProviderError,
    UpstreamConnectionError,
    UpstreamRateLimited,
    UpstreamServerError,
)
from unigate.providers import anthropic
from unigate.providers.anthropic import (
    AnthropicProvider,
    StreamTranslator,
    from_native,
    parse_error,
    to_native,
)
from unigate.providers.base import ProviderContext
from unigate.types import Deployment

from .conftest import RECORDINGS, load_recording, recorded_request_body, recorded_response_body

FOLDER = RECORDINGS / "anthropic"

# Recordings (or single interactions, "file#index") this provider deliberately does not translate.
UNSUPPORTED = {
    "test_anthropic_model_usage_limit_exceeded.yaml": "only calls count_tokens (token counting, not chat)",
    "test_anthropic_model_usage_limit_not_exceeded.yaml#0": "/v1/messages/count_tokens call (token counting)",
    "test_anthropic_server_tool_pass_history_to_another_provider.yaml": (
        "server-side web_search tool (run by Anthropic; no chat equivalent); #1 is OpenAI Responses API"
    ),
    "test_anthropic_server_tool_receive_history_from_another_provider.yaml": (
        "server-side code_execution tool and its result blocks; #0 is Gemini generateContent"
    ),
    "test_anthropic_model_thinking_part_from_other_model.yaml#0": "OpenAI Responses API call, not Anthropic",
}

SYSTEM_NL = "You are a helpful assistant.\n\n"
PY_PROMPT = "Please explain what Python is and its main use cases. " * 100
EMPTY_OBJECT = {"additionalProperties": False, "properties": {}, "type": "object"}


def fn_tool(name: str, parameters: dict[str, Any], strict: bool | None = None) -> dict[str, Any]:
    function: dict[str, Any] = {"name": name, "description": "", "parameters": parameters}
    if strict is not None:
        function["strict"] = strict
    return {"type": "function", "function": function}


def deployment(model: str, api_base: str | None = None, **options: Any) -> Deployment:
    return Deployment(
        id="claude#0",
        public_name="claude",
        provider="anthropic",
        model=model,
        api_base=api_base,
        api_key="sk-ant-test",
        options=tuple(options.items()),
    )


@dataclass
class Turn:
    """One recorded interaction: the request's new messages (appended to the conversation so far)
    and what the reply must translate to."""

    new_messages: list[dict[str, Any]]
    content: str | None = None
    content_prefix: str | None = None
    finish: str = "stop"
    usage: tuple[int, int] = (0, 0)
    cached: int = 0
    tool_calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    reasoning: bool = False


@dataclass
class Case:
    file: str
    model: str
    turns: list[Turn]
    extra: dict[str, Any] = field(default_factory=dict)  # request fields besides messages
    first: int = 0  # index of the first Anthropic interaction in the file

    @property
    def id(self) -> str:
        return self.file.removeprefix("test_").removesuffix(".yaml")


TOOLS_STRICT = [
    fn_tool("country_source", EMPTY_OBJECT, strict=True),
    fn_tool(
        "capital_lookup",
        {
            "additionalProperties": False,
            "properties": {"country": {"type": "string"}},
            "required": ["country"],
            "type": "object",
        },
    ),
]

CASES = [
    Case(
        "test_anthropic_model_instructions.yaml",
        "claude-3-opus-latest",
        [
            Turn(
                [
                    {"role": "system", "content": SYSTEM_NL},
                    {"role": "user", "content": "What is the capital of France?"},
                ],
                content="The capital of France is Paris.",
                usage=(20, 10),
            )
        ],
    ),
    Case(
        "test_anthropic_model_empty_message_on_history.yaml",
        "claude-sonnet-4-5",
        [
            Turn(
                [
                    {"role": "system", "content": SYSTEM_NL},
                    {"role": "user", "content": ""},  # empty turns are dropped (Anthropic rejects them)
                    {"role": "assistant", "content": "Hello, how can I help you?"},
                    {"role": "user", "content": [{"type": "text", "text": "I need a potato!"}]},
                ],
                content_prefix="I can't physically give you a potato",
                usage=(41, 88),
            )
        ],
    ),
    Case(
        "test_anthropic_cache_real_api.yaml",
        "claude-sonnet-4-5",
        [
            Turn(
                [
                    {"role": "system", "content": "You are a helpful assistant."},
                    {"role": "user", "content": PY_PROMPT},
                ],
                content_prefix="# What is Python?",
                usage=(3 + 1111, 406),
                cached=1111,
            ),
            Turn(
                [{"role": "user", "content": "Can you summarize that in one sentence?"}],
                content_prefix="Python is a beginner-friendly",
                usage=(3 + 1111 + 418, 33),
                cached=1111,
            ),
        ],
        extra={"cache_control": {"type": "ephemeral", "ttl": "5m"}},
    ),
    Case(
        "test_anthropic_mixed_strict_tool_run.yaml",
        "claude-sonnet-4-5",
        [
            Turn(
                [
                    {
                        "role": "system",
                        "content": "Always call `country_source` first, then call `capital_lookup` "
                        "with that result before replying.",
                    },
                    {
                        "role": "user",
                        "content": "Use the registered tools and respond exactly as `Capital: <city>`.",
                    },
                ],
                content="I'll help you find the capital city using the available tools.",
                finish="tool_calls",
                usage=(628, 50),
                tool_calls=[("country_source", {})],
            ),
            Turn(
                [{"role": "tool", "tool_call_id": "toolu_01Ttepb9joVoQFHP568v7UAL", "content": "Japan"}],
                content=None,
                finish="tool_calls",
                usage=(691, 53),
                tool_calls=[("capital_lookup", {"country": "Japan"})],
            ),
            Turn(
                [{"role": "tool", "tool_call_id": "toolu_011j5uC2Tg3TZJo3nmLtJ8Mm", "content": "Tokyo"}],
                content="Capital: Tokyo",
                usage=(757, 6),
            ),
        ],
        extra={"tools": TOOLS_STRICT, "tool_choice": "auto"},
    ),
    Case(
        "test_anthropic_text_output_function.yaml",
        "claude-sonnet-4-5",
        [
            Turn(
                [
                    {
                        "role": "user",
                        "content": "What is the largest city in the user country? "
                        "Use the get_user_country tool and then your own world knowledge.",
                    }
                ],
                content_prefix="I'll help find the largest city in your country.",
                finish="tool_calls",
                usage=(383, 65),
                tool_calls=[("get_user_country", {})],
            ),
            Turn(
                [{"role": "tool", "tool_call_id": "toolu_01JJ8TequDsrEU2pv1QFRWAK", "content": "Mexico"}],
                content_prefix="Based on the result, you are located in Mexico.",
                usage=(460, 91),
            ),
        ],
        # no tool_choice: Anthropic's default is auto, sent explicitly as the recording shows
        extra={"tools": [fn_tool("get_user_country", EMPTY_OBJECT)]},
    ),
    Case(
        "test_anthropic_output_tool_with_thinking.yaml",
        "claude-sonnet-4-0",
        [
            Turn(
                [
                    {
                        "role": "system",
                        "content": "\nAlways respond with a JSON object that's compatible with this "
                        "schema:\n\n"
                        '{"properties": {"response": {"type": "integer"}}, "required": ["response"], '
                        '"type": "object", "title": "int"}\n\n'
                        "Don't include any text or Markdown fencing before or after.\n",
                    },
                    {"role": "user", "content": "What is 3 + 3?"},
                ],
                content='{"response": 6}',
                usage=(107, 75),
                reasoning=True,
            )
        ],
        extra={"thinking": {"type": "enabled", "budget_tokens": 3000}},
    ),
    Case(
        "test_anthropic_prompted_output_multiple.yaml",
        "claude-sonnet-4-5",
        [
            Turn(
                [
                    {"role": "system", "content": "PROMPTED"},  # replaced below with the recorded text
                    {"role": "user", "content": "What is the largest city in Mexico?"},
                ],
                content='{"result": {"kind": "CityLocation", "data": {"city": "Mexico City", "country": "Mexico"}}}',
                usage=(265, 31),
            )
        ],
    ),
    Case(
        "test_anthropic_sampling_settings_reach_the_wire.yaml",
        "claude-haiku-4-5",
        [
            Turn(
                [{"role": "user", "content": "hello"}],
                content="Hello! 👋 How can I help you today?",
                usage=(8, 16),
            )
        ],
        extra={"temperature": 0.2, "top_k": 40},
    ),
    Case(
        "test_anthropic_native_output_decimal_strict.yaml",
        "claude-sonnet-4-5",
        [
            Turn(
                [{"role": "user", "content": "Return exactly this payment amount: 12.34"}],
                content='{"amount":12.34}',
                usage=(222, 10),
            )
        ],
        extra={
            "response_format": {
                "type": "json_schema",
                "json_schema": {
                    "name": "payment",
                    "strict": True,
                    "schema": {
                        "additionalProperties": False,
                        "properties": {
                            "amount": {
                                "anyOf": [
                                    {"type": "number"},
                                    {
                                        "description": "{pattern: ^(?!^[-+.]*$)[+-]?0*\\d*\\.?\\d*$}",
                                        "type": "string",
                                    },
                                ]
                            }
                        },
                        "required": ["amount"],
                        "type": "object",
                    },
                },
            }
        },
    ),
    Case(
        "test_anthropic_task_budget_adds_output_config_and_beta.yaml",
        "claude-opus-4-7",
        [Turn([{"role": "user", "content": "What is 2+2?"}], content="2 + 2 = 4", usage=(53, 14))],
        extra={"output_config": {"task_budget": {"remaining": 500, "total": 20000, "type": "tokens"}}},
    ),
    Case(
        "test_anthropic_task_budget_coexists_with_effort.yaml",
        "claude-opus-4-7",
        [Turn([{"role": "user", "content": "What is 2+2?"}], content="2 + 2 = 4", usage=(54, 14))],
        extra={
            "reasoning_effort": "high",
            "output_config": {"task_budget": {"total": 20000, "type": "tokens"}},
        },
    ),
    Case(
        "test_anthropic_model_thinking_part_redacted.yaml",
        "claude-sonnet-4-5-20250929",
        [
            Turn(
                [
                    {
                        "role": "user",
                        "content": "ANTHROPIC_MAGIC_STRING_TRIGGER_REDACTED_THINKING_"
                        "46C9A13E193C177646C7398A98432ECCCE4C1253D5E2D82641AC0E52CC2876CB",
                    }
                ],
                content_prefix="I notice that your message appears to contain a command",
                usage=(92, 196),
            ),
            Turn(
                [{"role": "user", "content": "What was that?"}],
                content_prefix="That message appeared to be an attempt",
                usage=(168, 232),
            ),
        ],
        extra={"thinking": {"type": "enabled", "budget_tokens": 1024}},
    ),
    Case(
        "test_anthropic_model_thinking_part_from_other_model.yaml",
        "claude-sonnet-4-0",
        [
            Turn(
                [
                    {"role": "system", "content": "You are a helpful assistant."},
                    {"role": "user", "content": "How do I cross the street?"},
                    {"role": "assistant", "content": "FROM_OTHER_MODEL"},  # replaced below
                    {
                        "role": "user",
                        "content": "Considering the way to cross the street, analogously, how do I cross the river?",
                    },
                ],
                content_prefix="Great analogy!",
                usage=(1343, 538),
                reasoning=True,
            )
        ],
        extra={"thinking": {"type": "enabled", "budget_tokens": 1024}},
        first=1,
    ),
    Case(
        "test_anthropic_model_usage_limit_not_exceeded.yaml",
        "claude-sonnet-4-5",
        [
            Turn(
                [{"role": "user", "content": "The quick brown fox jumps over the lazydog."}],
                content_prefix="I noticed a small typo",
                usage=(19, 77),
            )
        ],
        first=1,
    ),
    Case(
        "test_image_url_input_invalid_mime_type.yaml",
        "claude-haiku-4-5",
        [
            Turn(
                [
                    {
                        "role": "user",
                        "content": [
                            {"type": "text", "text": "What animal is this?"},
                            {
                                "type": "image_url",
                                "image_url": {
                                    "url": "https://lh3.googleusercontent.com/proxy/YngsuS8jQJysXxeucAgVBcSgIdwZlSQ-"
                                    "HvsNxGjHS0SrUKXI161bNKh6SOcMsNUGsnxoOrS3AYX--MT4T3S3SoCgSD1xKrtBwwItcgexaX_7W-"
                                    "qHo-VupmYgjjzWO-BuORLp9-pj8Kjr"
                                },
                            },
                        ],
                    }
                ],
                content_prefix="This is a Great Horned Owl",
                usage=(335, 147),
            )
        ],
    ),
    Case(
        "test_anthropic_model_thinking_part_stream.yaml",
        "claude-sonnet-4-0",
        [
            Turn(
                [{"role": "user", "content": "How do I cross the street?"}],
                content_prefix="Here are the basic steps for safely crossing the street:",
                usage=(43, 282),
                reasoning=True,
            )
        ],
        extra={"thinking": {"type": "enabled", "budget_tokens": 1024}, "stream": True},
    ),
]


def _fill_placeholders(case: Case, interactions: list[dict[str, Any]]) -> None:
    """Two conversations carry text too long to inline; build it from what the client had."""
    if case.file == "test_anthropic_prompted_output_multiple.yaml":
        system = recorded_request_body(interactions[0])["system"]
        assert system.startswith("Always respond with a JSON object")
        case.turns[0].new_messages[0]["content"] = system
    if case.file == "test_anthropic_model_thinking_part_from_other_model.yaml":
        # The earlier answer came from an OpenAI reasoning model; its client replays it as text parts.
        previous = recorded_response_body(interactions[0])
        parts = []
        for item in previous["output"]:
            if item["type"] == "reasoning":
                parts += [f"<thinking>\n{s['text']}\n</thinking>" for s in item["summary"]]
            elif item["type"] == "message":
                parts += [c["text"] for c in item["content"]]
        case.turns[0].new_messages[2]["content"] = [{"type": "text", "text": p} for p in parts]


def conversation(case: Case) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(Anthropic interactions used, OpenAI requests in order) for a case."""
    interactions = load_recording("anthropic", case.file)
    _fill_placeholders(case, interactions)
    used = interactions[case.first : case.first + len(case.turns)]
    requests = []
    messages: list[dict[str, Any]] = []
    for turn, interaction in zip(case.turns, used, strict=True):
        messages = messages + turn.new_messages
        requests.append({"model": "claude", "messages": list(messages), **case.extra})
        if not case.extra.get("stream"):
            # the client sends back the assistant message it received, as-is
            reply = from_native(recorded_response_body(interaction), "claude")
            messages = [*messages, reply["choices"][0]["message"]]
    return used, requests


def parse_sse(text: str) -> list[tuple[str | None, bytes]]:
    events = []
    for block in text.split("\n\n"):
        if not block.strip():
            continue
        name = None
        data = []
        for line in block.split("\n"):
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].lstrip())
        events.append((name, "\n".join(data).encode()))
    return events


def collect_stream(chunks: list[dict[str, Any]]) -> dict[str, Any]:
    """Fold OpenAI chunks into a message the way an OpenAI client does."""
    content, reasoning, calls, blocks = [], [], {}, []
    finish = usage = None
    for chunk in chunks:
        ChatCompletionChunk.model_validate(chunk)
        if chunk.get("usage"):
            usage = chunk["usage"]
        for choice in chunk["choices"]:
            delta = choice["delta"]
            content.append(delta.get("content") or "")
            reasoning.append(delta.get("reasoning_content") or "")
            blocks += delta.get("thinking_blocks") or []
            for call in delta.get("tool_calls") or []:
                slot = calls.setdefault(call["index"], {"id": None, "name": None, "arguments": ""})
                slot["id"] = call.get("id") or slot["id"]
                slot["name"] = (call.get("function") or {}).get("name") or slot["name"]
                slot["arguments"] += (call.get("function") or {}).get("arguments") or ""
            finish = choice.get("finish_reason") or finish
    return {
        "content": "".join(content),
        "reasoning": "".join(reasoning),
        "tool_calls": [calls[i] for i in sorted(calls)],
        "thinking_blocks": blocks,
        "finish": finish,
        "usage": usage,
    }


def check_message(turn: Turn, message: dict[str, Any], finish: str | None, usage: dict[str, Any]) -> None:
    if turn.content_prefix is not None:
        assert message["content"].startswith(turn.content_prefix)
    else:
        assert message["content"] == turn.content
    calls = message.get("tool_calls") or []
    assert [(c["function"]["name"], json.loads(c["function"]["arguments"])) for c in calls] == turn.tool_calls
    assert all(c["id"].startswith("toolu_") and c["type"] == "function" for c in calls)
    assert bool(message.get("reasoning_content")) is turn.reasoning
    assert finish == turn.finish
    assert (usage["prompt_tokens"], usage["completion_tokens"]) == turn.usage
    assert usage["total_tokens"] == sum(turn.usage)
    assert usage.get("prompt_tokens_details", {}).get("cached_tokens", 0) == turn.cached


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_request_matches_recording(case: Case) -> None:
    used, requests = conversation(case)
    for interaction, request in zip(used, requests, strict=True):
        assert interaction["request"]["uri"].startswith("https://api.anthropic.com/v1/messages")
        assert to_native(request, deployment(case.model)) == recorded_request_body(interaction)


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


def test_recorded_stream_translation() -> None:
    case = next(c for c in CASES if c.extra.get("stream"))
    interaction = load_recording("anthropic", case.file)[0]
    raw = recorded_response_body(interaction)
    translator = StreamTranslator("claude")
    chunks = [c for event, data in parse_sse(raw) for c in translator.feed(event, data)]
    assert translator.done and translator.close() == []
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] == 282
    got = collect_stream(chunks)
    check_message(
        case.turns[0],
        {"content": got["content"], "reasoning_content": got["reasoning"]},
        got["finish"],
        got["usage"],
    )
    assert got["reasoning"].startswith("This is a straightforward question about pedestrian safety.")
    assert got["content"].endswith("prioritize safety over speed when crossing streets.")
    (block,) = got["thinking_blocks"]
    assert block["thinking"] == got["reasoning"] and block["signature"].startswith("EvMCCkYICxgCKkCHP2cS")
    assert len({c["id"] for c in chunks}) == 1 and chunks[0]["id"] == "msg_01ALwQ87pTS7hH1PjSdC9wJD"


# A tool-use stream in the documented event shape (Anthropic "Streaming Messages" docs): text, then
# two tool_use blocks, one of them without arguments, split into input_json_delta fragments.
TOOL_STREAM = [
    (
        "message_start",
        {
            "type": "message_start",
            "message": {
                "id": "msg_tool",
                "type": "message",
                "role": "assistant",
                "content": [],
                "model": "claude-sonnet-4-5",
                "stop_reason": None,
                "usage": {
                    "input_tokens": 472,
                    "cache_read_input_tokens": 100,
                    "cache_creation_input_tokens": 0,
                    "output_tokens": 2,
                },
            },
        },
    ),
    (
        "content_block_start",
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    ),
    (
        "content_block_delta",
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Okay"}},
    ),
    ("content_block_stop", {"type": "content_block_stop", "index": 0}),
    (
        "content_block_start",
        {
            "type": "content_block_start",
            "index": 1,
            "content_block": {"type": "tool_use", "id": "toolu_A", "name": "get_weather", "input": {}},
        },
    ),
    (
        "content_block_delta",
        {
            "type": "content_block_delta",
            "index": 1,
            "delta": {"type": "input_json_delta", "partial_json": ""},
        },
    ),
    (
        "content_block_delta",
        {
            "type": "content_block_delta",
            "index": 1,
            "delta": {"type": "input_json_delta", "partial_json": '{"location": "San Fra'},
        },
    ),
    ("ping", {"type": "ping"}),
    (
        "content_block_delta",
        {
            "type": "content_block_delta",
            "index": 1,
            "delta": {"type": "input_json_delta", "partial_json": 'ncisco, CA"}'},
        },
    ),
    ("content_block_stop", {"type": "content_block_stop", "index": 1}),
    (
        "content_block_start",
        {
            "type": "content_block_start",
            "index": 2,
            "content_block": {"type": "tool_use", "id": "toolu_B", "name": "get_time", "input": {}},
        },
    ),
    ("content_block_stop", {"type": "content_block_stop", "index": 2}),
    (
        "message_delta",
        {
            "type": "message_delta",
            "delta": {"stop_reason": "tool_use", "stop_sequence": None},
            "usage": {"output_tokens": 89},
        },
    ),
    ("message_stop", {"type": "message_stop"}),
]


def sse_text(events: list[tuple[str, dict[str, Any]]]) -> str:
    return "".join(f"event: {name}\ndata: {json.dumps(data)}\n\n" for name, data in events)


def test_tool_call_stream_translation() -> None:
    translator = StreamTranslator("claude")
    chunks = [c for name, data in TOOL_STREAM for c in translator.feed(name, orjson.dumps(data))]
    got = collect_stream(chunks)
    assert got["content"] == "Okay"
    assert got["tool_calls"] == [
        {"id": "toolu_A", "name": "get_weather", "arguments": '{"location": "San Francisco, CA"}'},
        {"id": "toolu_B", "name": "get_time", "arguments": "{}"},
    ]
    first_deltas = [
        c["choices"][0]["delta"]["tool_calls"][0]
        for c in chunks
        if c["choices"] and "tool_calls" in c["choices"][0]["delta"]
    ]
    assert [d["index"] for d in first_deltas] == [0, 0, 0, 1, 1]
    assert got["finish"] == "tool_calls"
    assert got["usage"] == {
        "prompt_tokens": 572,
        "completion_tokens": 89,
        "total_tokens": 661,
        "prompt_tokens_details": {"cached_tokens": 100},
    }


def test_stream_error_event_raises_classified_error() -> None:
    translator = StreamTranslator("claude")
    translator.feed("message_start", TOOL_STREAM[0][1])
    overloaded = b'{"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}'
    with pytest.raises(UpstreamServerError) as info:
        translator.feed("error", overloaded)
    assert info.value.retryable and "Overloaded" in info.value.message
    too_long = {
        "type": "error",
        "error": {"type": "invalid_request_error", "message": "prompt is too long: 1 > 0"},
    }
    with pytest.raises(ContextWindowExceeded):
        StreamTranslator("claude").feed("error", orjson.dumps(too_long))
    limited = {"type": "error", "error": {"type": "rate_limit_error", "message": "slow down"}}
    with pytest.raises(UpstreamRateLimited):
        StreamTranslator("claude").feed("error", orjson.dumps(limited))


def test_stream_cut_before_finish_is_a_connection_error() -> None:
    translator = StreamTranslator("claude")
    for name, data in TOOL_STREAM[:4]:
        translator.feed(name, data)
    with pytest.raises(UpstreamConnectionError):
        translator.close()


# ---------------------------------------------------------------------------------------------
# Errors: the recorded 400 and the documented error bodies (docs "Errors" page shapes)


def error_body(kind: str, message: str) -> bytes:
    return orjson.dumps({"type": "error", "error": {"type": kind, "message": message}, "request_id": "req_1"})


def test_recorded_invalid_request_keeps_status_and_message() -> None:
    interaction = load_recording("anthropic", "test_anthropic_explicit_effort_xhigh_unsupported_model_errors.yaml")[0]
    request = {
        "model": "claude",
        "messages": [{"role": "user", "content": "What is 2+2?"}],
        "reasoning_effort": "xhigh",
    }
    assert to_native(request, deployment("claude-opus-4-6")) == recorded_request_body(interaction)
    raw = orjson.dumps(recorded_response_body(interaction))
    error = parse_error(interaction["response"]["status"]["code"], raw, {})
    assert type(error) is ProviderError
    assert error.upstream_status == 400 and error.http_status == 400 and error.code == "invalid_request_error"
    assert "does not support effort level 'xhigh'" in error.message and not error.retryable


@pytest.mark.parametrize(
    ("status", "kind", "message", "headers", "expected", "http_status"),
    [
        (
            429,
            "rate_limit_error",
            "Number of request tokens has exceeded your per-minute rate limit",
            {"retry-after": "17"},
            UpstreamRateLimited,
            429,
        ),
        (529, "overloaded_error", "Overloaded", {}, UpstreamServerError, 502),
        (500, "api_error", "Internal server error", {}, UpstreamServerError, 502),
        (
            400,
            "invalid_request_error",
            "prompt is too long: 208310 tokens > 200000 maximum",
            {},
            ContextWindowExceeded,
            400,
        ),
        (401, "authentication_error", "invalid x-api-key", {}, ProviderError, 502),
        (403, "permission_error", "Your API key does not have permission", {}, ProviderError, 502),
        (
            413,
            "request_too_large",
            "Request exceeds the maximum allowed number of bytes.",
            {},
            ProviderError,
            413,
        ),
    ],
)
def test_error_mapping(
    status: int, kind: str, message: str, headers: dict[str, str], expected: type, http_status: int
) -> None:
    error = parse_error(status, error_body(kind, message), headers)
    assert type(error) is expected
    assert error.provider == "anthropic" and error.upstream_status == status and error.http_status == http_status
    assert message in error.message and error.raw
    if headers:
        assert error.retry_after == 17.0
    assert error.retryable is (status in (429, 500, 529))


# ---------------------------------------------------------------------------------------------
# Request features not covered by the recordings


def native(request: dict[str, Any], model: str = "claude-sonnet-4-5", **options: Any) -> dict[str, Any]:
    return to_native({"model": "claude", **request}, deployment(model, **options))


def test_messages_system_tools_and_merging() -> None:
    body = native(
        {
            "messages": [
                {"role": "system", "content": "A"},
                {"role": "developer", "content": [{"type": "text", "text": "B"}]},
                {"role": "user", "content": "hi"},
                {
                    "role": "user",
                    "content": [{"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBO"}}],
                },
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {"id": "t1", "type": "function", "function": {"name": "f", "arguments": '{"x": 1}'}},
                        {"id": "t2", "type": "function", "function": {"name": "f", "arguments": '{"x": 2}'}},
                    ],
                },
                {"role": "tool", "tool_call_id": "t1", "content": [{"type": "text", "text": "one"}]},
                {"role": "tool", "tool_call_id": "t2", "content": "two"},
                {"role": "user", "content": "thanks"},
            ],
            "tools": [fn_tool("f", {"type": "object", "properties": {"x": {"type": "integer"}}})],
            "tool_choice": "required",
            "parallel_tool_calls": False,
            "stop": "END",
            "max_completion_tokens": 100,
            "top_p": 0.5,
            "user": "u-1",
        }
    )
    assert body["system"] == "A\n\nB"
    assert body["messages"] == [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "hi"},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBO"}},
            ],
        },
        {
            "role": "assistant",
            "content": [
                {"type": "tool_use", "id": "t1", "name": "f", "input": {"x": 1}},
                {"type": "tool_use", "id": "t2", "name": "f", "input": {"x": 2}},
            ],
        },
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "t1",
                    "content": [{"type": "text", "text": "one"}],
                    "is_error": False,
                },
                {"type": "tool_result", "tool_use_id": "t2", "content": "two", "is_error": False},
                {"type": "text", "text": "thanks"},
            ],
        },
    ]
    assert body["tool_choice"] == {"type": "any", "disable_parallel_tool_use": True}
    assert body["tools"][0]["input_schema"]["properties"] == {"x": {"type": "integer"}}
    assert (body["stop_sequences"], body["max_tokens"], body["top_p"]) == (["END"], 100, 0.5)
    assert body["metadata"] == {"user_id": "u-1"} and body["stream"] is False


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ("none", {"type": "none"}),
        ("auto", {"type": "auto"}),
        ({"type": "function", "function": {"name": "f"}}, {"type": "tool", "name": "f"}),
    ],
)
def test_tool_choice(choice: Any, expected: dict[str, Any]) -> None:
    body = native(
        {
            "messages": [{"role": "user", "content": "x"}],
            "tools": [fn_tool("f", EMPTY_OBJECT)],
            "tool_choice": choice,
        }
    )
    assert body["tool_choice"] == expected


def test_reasoning_effort_becomes_thinking_budget_on_thinking_models() -> None:
    messages = [{"role": "user", "content": "x"}]
    body = native({"messages": messages, "reasoning_effort": "high"}, "claude-sonnet-4-5")
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 4096}
    assert body["max_tokens"] > 4096 and "output_config" not in body
    capped = native({"messages": messages, "reasoning_effort": "high", "max_tokens": 3000}, "claude-sonnet-4-5")
    assert capped["thinking"]["budget_tokens"] < capped["max_tokens"] == 3000
    assert "thinking" not in native({"messages": messages, "reasoning_effort": "low"}, "claude-3-5-haiku-latest")
    effort = native({"messages": messages, "reasoning_effort": "minimal"}, "claude-opus-4-5")
    assert effort["output_config"] == {"effort": "low"} and "thinking" not in effort
    forced = native({"messages": messages, "reasoning_effort": "low"}, "my-claude-finetune", reasoning_mode="effort")
    assert forced["output_config"] == {"effort": "low"}


def test_derived_thinking_respects_anthropic_constraints() -> None:
    messages = [{"role": "user", "content": "x"}]
    sampled = native({"messages": messages, "reasoning_effort": "medium", "temperature": 0.2, "top_k": 5})
    assert sampled["thinking"]["budget_tokens"] == 2048
    assert "temperature" not in sampled and "top_k" not in sampled
    forced = native(
        {
            "messages": messages,
            "reasoning_effort": "medium",
            "tools": [fn_tool("f", EMPTY_OBJECT)],
            "tool_choice": "required",
        }
    )
    assert "thinking" not in forced and forced["tool_choice"] == {"type": "any"}


def test_default_max_tokens() -> None:
    assert anthropic.default_max_tokens("claude-sonnet-4-5-20250929") == 4096
    assert anthropic.default_max_tokens("claude-3-haiku-20240307") == 4096
    assert anthropic.default_max_tokens("some-future-claude") == 4096


def test_media_blocks() -> None:
    pdf = {"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBERi0=", "filename": "a.pdf"}}
    body = native({"messages": [{"role": "user", "content": [pdf]}]})
    assert body["messages"][0]["content"] == [
        {
            "type": "document",
            "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0="},
        }
    ]


def test_urls_and_headers() -> None:
    dep = deployment("claude-sonnet-4-5", api_base="https://proxy.example/v1")
    assert anthropic.messages_url(dep) == "https://proxy.example/v1/messages"
    assert anthropic.messages_url(deployment("m")) == "https://api.anthropic.com/v1/messages"
    headers = anthropic.native_headers({"anthropic_beta": ["a-1", "b-2"]}, dep)
    assert headers["x-api-key"] == "sk-ant-test" and headers["anthropic-version"] == "2023-06-01"
    assert headers["anthropic-beta"] == "a-1,b-2" and "authorization" not in headers


# ---------------------------------------------------------------------------------------------
# End to end over real HTTP: the provider class against a replay upstream on 127.0.0.1


@pytest.fixture
async def provider() -> Any:
    async with aiohttp.ClientSession() as session:
        yield AnthropicProvider(ProviderContext(http=session))


def _without_volatile(response: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in response.items() if k != "created"}


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
async def test_end_to_end_replay(case: Case, provider: AnthropicProvider, replay_server: Any) -> None:
    used, requests = conversation(case)
    base = await replay_server(used)
    dep = deployment(case.model, api_base=base)
    for turn, interaction, request in zip(case.turns, used, requests, strict=True):
        if request.get("stream"):
            chunks = [c async for c in provider.chat_stream(request, dep)]
            got = collect_stream(chunks)
            message = {"content": got["content"], "reasoning_content": got["reasoning"], "tool_calls": []}
            check_message(turn, message, got["finish"], got["usage"])
        else:
            response = await provider.chat(request, dep)
            ChatCompletion.model_validate(response)
            expected = from_native(recorded_response_body(interaction), "claude")
            assert _without_volatile(response) == _without_volatile(expected)
            choice = response["choices"][0]
            check_message(turn, choice["message"], choice["finish_reason"], response["usage"])
    assert len(replay_server.received) == len(used)
    for received, interaction in zip(replay_server.received, used, strict=True):
        assert (received.method, received.path) == ("POST", "/v1/messages")
        assert received.headers["x-api-key"] == "sk-ant-test"
        assert received.headers["anthropic-version"] == "2023-06-01"
        assert received.headers["content-type"] == "application/json"
        assert received.json() == recorded_request_body(interaction)


def _interaction(status: int, body: Any, headers: dict[str, str] | None = None, sse: bool = False) -> dict[str, Any]:
    response: dict[str, Any] = {
        "status": {"code": status},
        "headers": {k: [v] for k, v in (headers or {}).items()},
    }
    if sse:
        response["headers"]["content-type"] = ["text/event-stream"]
        response["body"] = {"string": body}
    else:
        response["parsed_body"] = body
    return {"request": {}, "response": response}


async def test_end_to_end_errors(provider: AnthropicProvider, replay_server: Any) -> None:
    request = {"model": "claude", "messages": [{"role": "user", "content": "hi"}]}
    overloaded_stream = sse_text(
        [
            TOOL_STREAM[0],
            ("error", {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}),
        ]
    )
    base = await replay_server(
        [
            _interaction(429, orjson.loads(error_body("rate_limit_error", "slow down")), {"retry-after": "7"}),
            _interaction(529, orjson.loads(error_body("overloaded_error", "Overloaded"))),
            _interaction(200, overloaded_stream, sse=True),
            _interaction(200, sse_text(TOOL_STREAM), sse=True),
        ]
    )
    dep = deployment("claude-sonnet-4-5", api_base=base)
    with pytest.raises(UpstreamRateLimited) as limited:
        await provider.chat(request, dep)
    assert limited.value.retry_after == 7.0
    with pytest.raises(UpstreamServerError):
        [c async for c in provider.chat_stream(request, dep)]
    received: list[dict[str, Any]] = []
    with pytest.raises(UpstreamServerError):
        async for chunk in provider.chat_stream(request, dep):
            received.append(chunk)
    assert received and received[0]["choices"][0]["delta"]["role"] == "assistant"
    got = collect_stream([c async for c in provider.chat_stream({**request, "stream": True}, dep)])
    assert [c["name"] for c in got["tool_calls"]] == ["get_weather", "get_time"] and got["finish"] == "tool_calls"
    assert replay_server.received[-1].json()["stream"] is True


def test_every_recording_is_covered_or_listed() -> None:
    covered = {c.file for c in CASES} | {"test_anthropic_explicit_effort_xhigh_unsupported_model_errors.yaml"}
    listed = {name.split("#")[0] for name in UNSUPPORTED}
    assert {p.name for p in Path(FOLDER).glob("*.yaml")} <= covered | listed
