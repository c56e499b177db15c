"""Helpers shared by the anthropic provider tests."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson
import pytest
from openai.types.chat import ChatCompletionChunk

from tests.providers.conftest import load_recording, recorded_request_body, recorded_response_body
from unigate.providers.anthropic import (
    AnthropicProvider,
    from_native,
    to_native,
)
from unigate.providers.base import ProviderContext
from unigate.types import Deployment

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


def error_body(kind: str, message: str) -> bytes:
    return orjson.dumps({"type": "error", "error": {"type": kind, "message": message}, "request_id": "req_1"})


def native(request: dict[str, Any], model: str = "claude-sonnet-4-5", **options: Any) -> dict[str, Any]:
    return to_native({"model": "claude", **request}, deployment(model, **options))


@pytest.fixture
async def provider() -> Any:
    async with aiohttp.ClientSession() as session:
        yield AnthropicProvider(ProviderContext(http=session))
