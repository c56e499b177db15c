"""Gemini translation checked against real recorded traffic, plus the provider over real HTTP.

For every recording in the gemini folder (except those in ``UNSUPPORTED``) the test builds the
OpenAI-format request a client would send, checks ``to_native`` against the recorded request,
and feeds the recorded reply through ``from_native`` / the stream translator. The same cases
then run through :class:`GeminiProvider` against a replay server on 127.0.0.1.
"""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest

from unigate.errors import (
    BadRequest,
    ContentFiltered,
    ContextWindowExceeded,
    ProviderError,
    UpstreamRateLimited,
    UpstreamServerError,
)
from unigate.providers.base import ProviderContext
from unigate.providers.gemini import (
    SKIP_SIGNATURE,
    GeminiProvider,
    GeminiStreamState,
    from_native,
    from_native_event,
    native_url,
    parse_error,
    to_native,
)
from unigate.providers.gemini.schema import to_openapi_schema
from unigate.types import Deployment

from .conftest import RECORDINGS, load_recording, recorded_request_body, recorded_response_body

# Recordings (or single interactions, "file#index") deliberately not translated, with the reason.
UNSUPPORTED: dict[str, str] = {
    "test_google_model_thinking_part_from_other_model.yaml#0": (
        "interaction 0 is an OpenAI Responses API call (another provider); the Gemini interaction is tested"
    ),
}

# Differences between the recorded client (pydantic-ai) and an OpenAI-format request that are
# not meaning: responseModalities ["TEXT"] is Gemini's default, systemInstruction.role is ignored
# by Gemini, proto JSON accepts snake_case and camelCase field names, and bytes fields accept
# standard and URL-safe base64. The VALIDATED function-calling mode is AUTO plus server-side
# argument validation; OpenAI's "auto" has no way to ask for it.
_SNAKE = {"file_uri": "fileUri", "mime_type": "mimeType", "parameters_json_schema": "parametersJsonSchema"}


def _b64(value: str) -> bytes:
    return base64.b64decode(value.replace("-", "+").replace("_", "/") + "=" * (-len(value) % 4))


def normalize(body: dict[str, Any]) -> dict[str, Any]:
    body = copy.deepcopy(body)
    body.pop("stream", None)
    if "systemInstruction" in body:
        body["systemInstruction"].pop("role", None)
    config = body.get("generationConfig") or {}
    if config.get("responseModalities") == ["TEXT"]:
        del config["responseModalities"]
    calling = (body.get("toolConfig") or {}).get("functionCallingConfig") or {}
    if calling.get("mode") == "VALIDATED":
        calling["mode"] = "AUTO"
    for content in body.get("contents", []):
        merged: list[dict[str, Any]] = []
        for part in content["parts"]:
            for snake, camel in _SNAKE.items():
                for holder in (part, part.get("fileData") or {}):
                    if snake in holder:
                        holder[camel] = holder.pop(snake)
            if "inlineData" in part:
                part["inlineData"]["data"] = _b64(part["inlineData"]["data"])
            if "thoughtSignature" in part:
                part["thoughtSignature"] = _b64(part["thoughtSignature"])
            if part.get("thought") and merged and merged[-1].get("thought"):
                merged[-1]["text"] += part["text"]  # several thought parts == one reasoning string
            else:
                merged.append(part)
        content["parts"] = merged
    for tool in body.get("tools", []):
        for declaration in tool.get("functionDeclarations", []):
            for snake, camel in _SNAKE.items():
                if snake in declaration:
                    declaration[camel] = declaration.pop(snake)
    return body


# ---------------------------------------------------------------------------------------------
# OpenAI-format request builders


def user(content: Any) -> dict[str, Any]:
    return {"role": "user", "content": content}


def system(text: str) -> dict[str, Any]:
    return {"role": "system", "content": text}


def call(call_id: str, name: str, args: dict[str, Any], signature: str | None = None) -> dict[str, Any]:
    tool_call: dict[str, Any] = {
        "id": call_id,
        "type": "function",
        "function": {"name": name, "arguments": json.dumps(args)},
    }
    if signature:
        tool_call["extra_content"] = {"google": {"thought_signature": signature}}
    return tool_call


def assistant(content: str | None = None, calls: list[dict[str, Any]] | None = None, **extra: Any) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": content, **extra}
    if calls:
        message["tool_calls"] = calls
    return message


def tool_result(call_id: str, content: str) -> dict[str, Any]:
    return {"role": "tool", "tool_call_id": call_id, "content": content}


def function(name: str, parameters: dict[str, Any], description: str = "") -> dict[str, Any]:
    return {
        "type": "function",
        "function": {"name": name, "description": description, "parameters": parameters},
    }


def obj(properties: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties, "additionalProperties": False}
    if required:
        schema["required"] = required
    return schema


def recorded(name: str, index: int = 0) -> dict[str, Any]:
    body = recorded_request_body(load_recording("gemini", name)[index])
    assert isinstance(body, dict)
    return body


def recorded_tools(name: str) -> list[dict[str, Any]]:
    """Tools whose recorded JSON Schema went out unchanged (parametersJsonSchema)."""
    tools = []
    for declaration in recorded(name)["tools"][0]["functionDeclarations"]:
        schema = declaration.get("parameters_json_schema") or declaration.get("parametersJsonSchema")
        tools.append(function(declaration["name"], schema, declaration.get("description", "")))
    return tools


def json_schema_format(name: str) -> dict[str, Any]:
    schema = recorded(name)["generationConfig"]["responseJsonSchema"]
    return {"type": "json_schema", "json_schema": {"name": schema.get("title", "out"), "schema": schema}}


def simple(text: str, *, sys: str | None = None, **params: Any) -> list[dict[str, Any]]:
    messages = ([system(sys)] if sys else []) + [user(text)]
    return [{"messages": messages, **params}]


def from_history(name: str, index: int, **params: Any) -> dict[str, Any]:
    """For recordings whose history has model turns with thought parts: same turns as OpenAI messages."""
    body = recorded(name, index)
    messages: list[dict[str, Any]] = [system(body["systemInstruction"]["parts"][0]["text"])]
    for content in body["contents"]:
        if content["role"] == "user":
            messages.append(user(content["parts"][0]["text"]))
        else:
            thoughts = "".join(p["text"] for p in content["parts"] if p.get("thought"))
            text = "".join(p["text"] for p in content["parts"] if not p.get("thought"))
            messages.append(assistant(text, reasoning_content=thoughts))
    return {"messages": messages, **params}


CAPITAL_TOOLS = [
    function(
        "get_capital",
        obj({"country": {"type": "string", "description": "The country name."}}, ["country"]),
        "Get the capital of a country.",
    ),
    function(
        "get_temperature",
        obj({"city": {"type": "string", "description": "The city name."}}, ["city"]),
        "Get the temperature in a city.",
    ),
]
USER_COUNTRY_TOOLS = [
    function("get_user_country", obj({})),
    function(
        "final_result",
        {
            "type": "object",
            "properties": {"city": {"type": "string"}, "country": {"type": "string"}},
            "required": ["city", "country"],
        },
        "The final response which ends this conversation",
    ),
]
DUMMY_TOOLS = [function("dummy", obj({}))]
THINK = {"thinking_config": {"include_thoughts": True}}
TEMP_Q = "What was the temperature in London 1st January 2022?"
COUNTRY_Q = (
    "What is the largest city in the user country? Use the get_user_country tool and then your own world knowledge."
)
MEXICO = "What is the largest city in Mexico?"
NESTED_SYS = "You are a helpful assistant that creates structured data."
NESTED_Q = "Create a simple example with 2 pages, each with 2 items"
PROMPTED_SYS = recorded("test_google_prompted_output_with_tools.yaml")["systemInstruction"]["parts"][0]["text"]
URL_Q = "What is the main content of this URL?"
VERTEX = {"vertex_project": "pydantic-ai", "vertex_location": "global"}


def _image_request() -> list[dict[str, Any]]:
    image = recorded_response_body(load_recording("gemini", "test_google_model_image_url_input.yaml")[0])
    data_url = "data:image/jpeg;base64," + base64.b64encode(image).decode()
    content = [
        {"type": "text", "text": "What is this vegetable?"},
        {"type": "image_url", "image_url": {"url": data_url}},
    ]
    return [{"messages": [system("You are a helpful chatbot."), user(content)]}]


def _url_request(part: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"messages": [user([{"type": "text", "text": URL_Q}, part])]}]


def _file(uri: str) -> dict[str, Any]:
    return {"type": "file", "file": {"file_id": uri}}


# file → (deployment options, builder of the OpenAI requests, one per recorded Gemini interaction)
Builder = Callable[[], list[dict[str, Any]]]
CASES: dict[str, tuple[dict[str, Any], Builder]] = {
    "test_google_timeout.yaml": ({}, lambda: simple("Hello!")),
    "test_google_model_instructions.yaml": (
        {},
        lambda: simple("What is the capital of France?", sys="You are a helpful assistant."),
    ),
    "test_google_model_thinking_config.yaml": (
        {},
        lambda: simple(
            "What is the capital of France?",
            sys="You are a helpful chatbot.",
            thinking_config={"include_thoughts": False},
        ),
    ),
    "test_google_model_top_p.yaml": (
        {},
        lambda: simple("What is the capital of France?", sys="You are a helpful chatbot.", top_p=0.5),
    ),
    "test_google_model_empty_user_prompt.yaml": ({}, lambda: simple("", sys="You are a helpful assistant.")),
    "test_google_model_gemini_3_5_flash.yaml": (
        {},
        lambda: simple("What is 2 + 2? Reply with just the number."),
    ),
    "test_google_model_retrying_after_empty_response.yaml": ({}, lambda: simple("Hi")),
    "test_google_httpx_client_is_not_closed.yaml": (
        {},
        lambda: simple("What is the capital of France?") + simple("What is the capital of Mexico?"),
    ),
    "test_google_model_empty_assistant_response.yaml": (
        {},
        lambda: [{"messages": [user("Hi"), assistant(""), user("Was your previous response empty?")]}],
    ),
    "test_google_model_stream.yaml": (
        {},
        lambda: simple("What is the capital of France?", sys="You are a helpful chatbot.", temperature=0.0),
    ),
    "test_google_stream_usage_is_live_mid_stream.yaml": (
        {},
        lambda: simple("Count from 1 to 30, one number per line, digits only."),
    ),
    "test_google_prompted_output.yaml": (
        {},
        lambda: simple(
            MEXICO,
            sys=recorded("test_google_prompted_output.yaml")["systemInstruction"]["parts"][0]["text"],
            response_format={"type": "json_object"},
        ),
    ),
    **{
        name: ({}, (lambda name=name, q=q: simple(q, response_format=json_schema_format(name))))
        for name, q in {
            "test_google_native_output.yaml": MEXICO,
            "test_google_decimal_native_output.yaml": "Return exactly this payment amount: 12.34",
            "test_google_dict_with_additional_properties_native_output.yaml": (
                'Create a config named "api-config" with metadata author="Alice" and version="1.0"'
            ),
            "test_google_dict_with_additional_properties_native_output_gemini_2_0.yaml": (
                'Create a config named "api-config" with metadata author="Alice" and version="1.0"'
            ),
            "test_google_integer_enum_native_output.yaml": 'Create a task named "Fix bug" with a priority',
            "test_google_recursive_schema_native_output.yaml": (
                'Create a simple tree with root "A" and two children "B" and "C"'
            ),
            "test_google_recursive_schema_native_output_gemini_2_5.yaml": (
                'Create a simple tree with root "A" and two children "B" and "C"'
            ),
            "test_google_prefix_items_native_output_gemini_2_0.yaml": (
                "Give me coordinates for New York City: latitude 40.7128, longitude -74.0060"
            ),
            "test_google_discriminated_union_native_output.yaml": ("Tell me about a cat with a meow volume of 5"),
        }.items()
    },
    **{
        name: (
            {},
            (
                lambda name=name: (
                    simple(
                        "Tell me about London, UK with population 9 million",
                        response_format=json_schema_format(name),
                    )
                    + simple("Just tell me a city: Paris", response_format=json_schema_format(name))
                )
            ),
        )
        for name in (
            "test_google_optional_fields_native_output.yaml",
            "test_google_optional_fields_native_output_gemini_2_0.yaml",
        )
    },
    "test_google_nested_models_with_native_output.yaml": (
        {},
        lambda: simple(
            NESTED_Q,
            sys=NESTED_SYS,
            response_format=json_schema_format("test_google_nested_models_with_native_output.yaml"),
        ),
    ),
    "test_google_nested_models_without_native_output.yaml": (
        {},
        lambda: simple(
            NESTED_Q,
            sys=NESTED_SYS,
            tools=recorded_tools("test_google_nested_models_without_native_output.yaml"),
            tool_choice="required",
        ),
    ),
    "test_google_model_image_url_input.yaml": ({}, _image_request),
    "test_google_url_input[ImageUrl].yaml": (
        VERTEX,
        lambda: _url_request(
            {
                "type": "image_url",
                "image_url": {
                    "url": "https://upload.wikimedia.org/wikipedia/commons/6/6a/Www.wikipedia_screenshot_%282021%29.png"
                },
            }
        ),
    ),
    "test_google_url_input[AudioUrl].yaml": (
        VERTEX,
        lambda: _url_request(_file("https://cdn.openai.com/API/docs/audio/alloy.wav")),
    ),
    "test_google_url_input[AudioUrl (gs)].yaml": (
        VERTEX,
        lambda: _url_request(_file("gs://pydantic-ai-dev/openai-alloy.wav")),
    ),
    "test_google_url_input[DocumentUrl].yaml": (
        VERTEX,
        lambda: _url_request(
            _file("https://storage.googleapis.com/cloud-samples-data/generative-ai/pdf/2403.05530.pdf")
        ),
    ),
    "test_google_url_input[VideoUrl].yaml": (
        VERTEX,
        lambda: _url_request(
            _file("https://upload.wikimedia.org/wikipedia/commons/8/8f/Panda_at_Smithsonian_zoo.webm")
        ),
    ),
    "test_google_url_input[VideoUrl (YouTube)].yaml": (
        VERTEX,
        lambda: _url_request(_file("https://youtu.be/lCdaVNyHtjU")),
    ),
    "test_google_url_input[VideoUrl (gs)].yaml": (
        VERTEX,
        lambda: _url_request(_file("gs://pydantic-ai-dev/grepit-tiny-video.mp4")),
    ),
    "test_google_tool_output.yaml": (
        {"schema_mode": "openapi"},
        lambda: [
            {
                "messages": [user("What is the largest city in the user country?")],
                "tools": USER_COUNTRY_TOOLS,
                "tool_choice": "required",
            },
            {
                "messages": [
                    user("What is the largest city in the user country?"),
                    assistant(None, [call("pyd_ai_3fa5644dae1d4aad997ae39c70006fbd", "get_user_country", {})]),
                    tool_result("pyd_ai_3fa5644dae1d4aad997ae39c70006fbd", "Mexico"),
                ],
                "tools": USER_COUNTRY_TOOLS,
                "tool_choice": "required",
            },
        ],
    ),
    "test_google_model_iter_stream.yaml": (
        {"schema_mode": "openapi"},
        lambda: [
            {
                "messages": [
                    system("You are a helpful chatbot."),
                    user("What is the temperature of the capital of France?"),
                    *extra,
                ],
                "tools": CAPITAL_TOOLS,
            }
            for extra in (
                [],
                [
                    assistant(
                        None,
                        [
                            call(
                                "pyd_ai_0e1a07b3c2b64d2ab3ad2efbe18e1b97",
                                "get_capital",
                                {"country": "France"},
                            )
                        ],
                    ),
                    tool_result("pyd_ai_0e1a07b3c2b64d2ab3ad2efbe18e1b97", "Paris"),
                ],
                [
                    assistant(
                        None,
                        [
                            call(
                                "pyd_ai_0e1a07b3c2b64d2ab3ad2efbe18e1b97",
                                "get_capital",
                                {"country": "France"},
                            )
                        ],
                    ),
                    tool_result("pyd_ai_0e1a07b3c2b64d2ab3ad2efbe18e1b97", "Paris"),
                    assistant(
                        None,
                        [
                            call(
                                "pyd_ai_98b25d994c5648df82f683188629229d",
                                "get_temperature",
                                {"city": "Paris"},
                            )
                        ],
                    ),
                    tool_result("pyd_ai_98b25d994c5648df82f683188629229d", "30°C"),
                ],
            )
        ],
    ),
    "test_google_model_structured_output.yaml": (
        {},
        lambda: [
            {
                "messages": [system("You are a helpful chatbot."), user(TEMP_Q), *extra],
                "tools": recorded_tools("test_google_model_structured_output.yaml"),
                "tool_choice": "required",
            }
            for extra in (
                [],
                [
                    assistant(
                        None,
                        [
                            call(
                                "pyd_ai_3b434062371141a69cab8ea6571e6812",
                                "temperature",
                                {"city": "London", "date": "2022-01-01"},
                            )
                        ],
                    ),
                    tool_result("pyd_ai_3b434062371141a69cab8ea6571e6812", "30°C"),
                ],
            )
        ],
    ),
    "test_google_text_output_function.yaml": (
        {},
        lambda: _signature_round_trip(
            "test_google_text_output_function.yaml",
            "pyd_ai_de82f159fb30408c98704a7bbeeb9c43",
            [user(COUNTRY_Q)],
        ),
    ),
    "test_google_prompted_output_with_tools.yaml": (
        {},
        lambda: _signature_round_trip(
            "test_google_prompted_output_with_tools.yaml",
            "pyd_ai_0e72b083e46d4a90a9dc734ddbf78806",
            [system(PROMPTED_SYS), user(COUNTRY_Q)],
        ),
    ),
    "test_google_model_thinking_part_iter.yaml": (
        {"schema_mode": "openapi"},
        lambda: [
            {
                "messages": [system("You are a helpful assistant."), user("How do I cross the street?")],
                "tools": DUMMY_TOOLS,
                **THINK,
            },
        ],
    ),
    "test_google_model_thinking_part_from_other_model.yaml": (
        {"schema_mode": "openapi"},
        lambda: [from_history("test_google_model_thinking_part_from_other_model.yaml", 1, tools=DUMMY_TOOLS, **THINK)],
    ),
}


def _signature_round_trip(name: str, call_id: str, head: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Turn 2 echoes turn 1's tool call as translated by from_native (signature in extra_content)."""
    tools = recorded_tools(name)
    first = from_native(recorded_response_body(load_recording("gemini", name)[0]), "m")
    tool_call = first["choices"][0]["message"]["tool_calls"][0]
    tool_call["id"] = call_id  # the recorded client used its own id; Gemini 2.5 returned none
    return [
        {"messages": head, "tools": tools, "tool_choice": "auto"},
        {
            "messages": [*head, assistant(None, [tool_call]), tool_result(call_id, "Mexico")],
            "tools": tools,
            "tool_choice": "auto",
        },
    ]


def _gemini_interactions(name: str) -> list[tuple[int, dict[str, Any]]]:
    return [
        (i, it)
        for i, it in enumerate(load_recording("gemini", name))
        if f"{name}#{i}" not in UNSUPPORTED
        and "googleapis.com" in it["request"]["uri"]
        and it["request"]["method"] == "POST"
    ]


def _deployment(uri: str, options: dict[str, Any], api_base: str | None = None) -> Deployment:
    model = uri.split("/models/", 1)[1].split(":", 1)[0]
    return Deployment(
        id="g#0",
        public_name="public-gemini",
        provider="gemini",
        model=model,
        api_base=api_base,
        api_key="test-key",
        options=tuple(options.items()),
    )


def _expected_strip_thought_signatures(body: dict[str, Any], ours: dict[str, Any]) -> None:
    """A functionCall part we send always has a signature (real or the documented dummy); the recorded
    client sent the dummy only for Gemini 3-era models. Text-part signatures are not replayed."""
    for theirs_c, ours_c in zip(body.get("contents", []), ours.get("contents", []), strict=False):
        for theirs_p, ours_p in zip(theirs_c["parts"], ours_c["parts"], strict=False):
            if "functionCall" in ours_p and "thoughtSignature" not in theirs_p:
                assert ours_p.pop("thoughtSignature") == _b64(SKIP_SIGNATURE)
            if "text" in theirs_p and "thoughtSignature" in theirs_p:
                del theirs_p["thoughtSignature"]


def test_every_recording_is_covered_or_listed() -> None:
    files = {p.name for p in (RECORDINGS / "gemini").glob("*.yaml")}
    listed = {key.split("#", 1)[0] for key in UNSUPPORTED if "#" not in key}
    assert files - set(CASES) - listed == set()
    assert set(CASES) <= files


@pytest.mark.parametrize("name", sorted(CASES))
def test_to_native_matches_recorded_request(name: str) -> None:
    options, build = CASES[name]
    requests = build()
    interactions = _gemini_interactions(name)
    assert len(requests) == len(interactions)
    for request, (_, interaction) in zip(requests, interactions, strict=True):
        uri = interaction["request"]["uri"]
        deployment = _deployment(uri, options)
        stream = ":streamGenerateContent" in uri
        assert native_url(deployment, stream=stream) == uri
        ours = normalize(to_native(request, deployment))
        theirs = normalize(recorded_request_body(interaction))
        theirs.setdefault("generationConfig", {})
        _expected_strip_thought_signatures(theirs, ours)
        assert ours == theirs


def _recorded_parts(body: dict[str, Any]) -> tuple[str, str, list[tuple[str, dict[str, Any]]]]:
    text, thoughts, calls = "", "", []
    for part in body["candidates"][0]["content"].get("parts", []):
        if "functionCall" in part:
            calls.append((part["functionCall"]["name"], part["functionCall"].get("args", {})))
        elif part.get("thought"):
            thoughts += part["text"]
        else:
            text += part.get("text", "")
    return text, thoughts, calls


def _sse_events(raw: str) -> list[dict[str, Any]]:
    return [json.loads(block[6:]) for block in raw.replace("\r\n", "\n").split("\n\n") if block.startswith("data: ")]


def _expected(interaction: dict[str, Any]) -> dict[str, Any]:
    """Text, reasoning, tool calls, finish reason and usage the recorded reply should become."""
    body = recorded_response_body(interaction)
    events = _sse_events(body) if isinstance(body, str) else [body]
    text, thoughts, calls = "", "", []
    for event in events:
        t, th, c = _recorded_parts(event)
        text, thoughts, calls = text + t, thoughts + th, calls + c
    meta = events[-1]["usageMetadata"]
    reasoning = meta.get("thoughtsTokenCount", 0)
    native_finish = next(
        e["candidates"][0]["finishReason"] for e in reversed(events) if "finishReason" in e["candidates"][0]
    )
    assert native_finish == "STOP"
    return {
        "text": text,
        "reasoning": thoughts,
        "calls": calls,
        "finish": "tool_calls" if calls else "stop",
        "prompt": meta["promptTokenCount"],
        "completion": meta.get("candidatesTokenCount", 0) + reasoning,
        "reasoning_tokens": reasoning,
    }


def _collect(chunks: list[dict[str, Any]]) -> dict[str, Any]:
    text, reasoning, calls, finish, usage = "", "", [], None, None
    for chunk in chunks:
        assert chunk["object"] == "chat.completion.chunk"
        assert chunk["model"] == "public-gemini"
        for choice in chunk["choices"]:
            delta = choice["delta"]
            text += delta.get("content") or ""
            reasoning += delta.get("reasoning_content") or ""
            calls += delta.get("tool_calls") or []
            finish = choice["finish_reason"] or finish
        usage = chunk.get("usage") or usage
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"] == usage  # usage comes last, on its own
    message = {"content": text, "reasoning_content": reasoning or None, "tool_calls": calls}
    return {"message": message, "finish_reason": finish, "usage": usage}


def _check(result: dict[str, Any], expected: dict[str, Any]) -> None:
    message = result["message"]
    assert (message.get("content") or "") == expected["text"]
    assert (message.get("reasoning_content") or "") == expected["reasoning"]
    calls = message.get("tool_calls") or []
    assert [(c["function"]["name"], json.loads(c["function"]["arguments"])) for c in calls] == expected["calls"]
    assert all(c["id"] and c["type"] == "function" for c in calls)
    assert result["finish_reason"] == expected["finish"]
    usage = result["usage"]
    assert usage["prompt_tokens"] == expected["prompt"]
    assert usage["completion_tokens"] == expected["completion"]
    assert usage["total_tokens"] == expected["prompt"] + expected["completion"]
    assert usage.get("completion_tokens_details", {}).get("reasoning_tokens", 0) == expected["reasoning_tokens"]


def _translate_reply(interaction: dict[str, Any]) -> dict[str, Any]:
    body = recorded_response_body(interaction)
    if isinstance(body, dict):
        response = from_native(body, "public-gemini")
        assert response["object"] == "chat.completion" and response["model"] == "public-gemini"
        return {**response["choices"][0], "usage": response["usage"]}
    state = GeminiStreamState(response_id="chatcmpl-x", model="public-gemini", created=1)
    chunks = [c for e in _sse_events(body) if (c := from_native_event(orjson.dumps(e), state)) is not None]
    from unigate.providers.gemini.stream import stream_usage_chunk

    final = stream_usage_chunk(state)
    assert final is not None
    return _collect([*chunks, final])


@pytest.mark.parametrize("name", sorted(CASES))
def test_from_native_matches_recorded_reply(name: str) -> None:
    for _, interaction in _gemini_interactions(name):
        _check(_translate_reply(interaction), _expected(interaction))


@pytest.mark.parametrize("name", sorted(CASES))
async def test_provider_over_http(name: str, replay_server: Any) -> None:
    options, build = CASES[name]
    interactions = _gemini_interactions(name)
    base = await replay_server([it for _, it in interactions])
    async with aiohttp.ClientSession() as http:
        provider = GeminiProvider(ProviderContext(http=http))
        for request, (_, interaction) in zip(build(), interactions, strict=True):
            uri = interaction["request"]["uri"]
            deployment = _deployment(uri, options, api_base=base)
            received_before = len(replay_server.received)
            if ":streamGenerateContent" in uri:
                chunks = [c async for c in provider.chat_stream(request, deployment)]
                result = _collect(chunks)
            else:
                response = await provider.chat(request, deployment)
                result = {**response["choices"][0], "usage": response["usage"]}
            _check(result, _expected(interaction))
            got = replay_server.received[received_before]
            recorded_path = uri.split("googleapis.com", 1)[1]
            assert got.path + ("?" + got.query if got.query else "") == recorded_path.replace("%28", "(").replace(
                "%29", ")"
            )
            headers = {k.lower(): v for k, v in got.headers.items()}
            if options.get("vertex_project"):
                assert headers["authorization"] == "Bearer test-key"
                assert "x-goog-api-key" not in headers
            else:
                assert headers["x-goog-api-key"] == "test-key"
                assert "authorization" not in headers
            assert got.json() == json.loads(orjson.dumps(to_native(request, deployment)))


# ---------------------------------------------------------------------------------------------
# Focused behaviour


def test_signature_round_trip_forwards_the_real_signature() -> None:
    name = "test_google_text_output_function.yaml"
    requests = _signature_round_trip(name, "pyd_ai_x", [user(COUNTRY_Q)])
    body = to_native(requests[1], _deployment("x/models/gemini-2.5-pro:generateContent", {}))
    part = body["contents"][1]["parts"][0]
    recorded_sig = recorded(name, 1)["contents"][1]["parts"][0]["thoughtSignature"]
    assert _b64(part["thoughtSignature"]) == _b64(recorded_sig)
    assert part["functionCall"] == {"name": "get_user_country", "args": {}, "id": "pyd_ai_x"}
    assert body["contents"][2]["parts"][0]["functionResponse"]["name"] == "get_user_country"


def test_schema_rewrite_into_openapi_subset() -> None:
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "additionalProperties": False,
        "$defs": {
            "Kind": {"enum": [1, 2], "type": "integer"},
            "Node": {"type": "object", "properties": {"child": {"$ref": "#/$defs/Node"}}},
        },
        "properties": {
            "kind": {"$ref": "#/$defs/Kind"},
            "mode": {"const": "fast"},
            "maybe": {"type": ["string", "null"], "format": "email"},
            "when": {
                "anyOf": [{"type": "string", "format": "date-time"}, {"type": "null"}],
                "description": "When.",
            },
            "date": {"type": "string", "format": "date", "description": "The date."},
            "pair": {"type": "array", "prefixItems": [{"type": "number"}, {"type": "string"}]},
            "tree": {"$ref": "#/$defs/Node"},
        },
        "required": ["kind"],
    }
    out = to_openapi_schema(schema)
    text = json.dumps(out)
    assert "$ref" not in text and "$defs" not in text and "additionalProperties" not in text and "$schema" not in text
    props = out["properties"]
    assert out["type"] == "OBJECT" and out["required"] == ["kind"]
    assert props["kind"] == {"type": "STRING", "enum": ["1", "2"]}
    assert props["mode"] == {"type": "STRING", "enum": ["fast"]}
    assert props["maybe"] == {"type": "STRING", "description": "Format: email", "nullable": True}
    assert props["when"] == {
        "type": "STRING",
        "format": "date-time",
        "description": "When.",
        "nullable": True,
    }
    assert props["date"] == {"type": "STRING", "description": "The date. (format: date)"}
    assert props["pair"]["items"] == {"anyOf": [{"type": "NUMBER"}, {"type": "STRING"}]}
    depth, node = 0, props["tree"]
    while "properties" in node:
        node, depth = node["properties"]["child"], depth + 1
    assert 1 <= depth <= 6 and node["type"] == "OBJECT"  # recursion cut off, still a valid schema
    assert schema["properties"]["kind"] == {"$ref": "#/$defs/Kind"}  # input untouched


def _dep(**options: Any) -> Deployment:
    return Deployment(
        id="g",
        public_name="p",
        provider="gemini",
        model="gemini-2.5-flash",
        api_key="k",
        options=tuple(options.items()),
    )


def test_request_parameters_and_tool_choice() -> None:
    tools = [function("a", obj({})), function("b", obj({}))]
    body = to_native(
        {
            "messages": [{"role": "developer", "content": "D"}, user("q")],
            "tools": tools,
            "tool_choice": {"type": "function", "function": {"name": "b"}},
            "max_completion_tokens": 50,
            "stop": "END",
            "seed": 7,
            "n": 2,
            "presence_penalty": 0.1,
            "frequency_penalty": 0.2,
            "top_k": 5,
            "reasoning_effort": "low",
        },
        _dep(),
    )
    assert body["systemInstruction"] == {"parts": [{"text": "D"}]}
    assert body["toolConfig"] == {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["b"]}}
    assert body["generationConfig"] == {
        "maxOutputTokens": 50,
        "stopSequences": ["END"],
        "seed": 7,
        "candidateCount": 2,
        "presencePenalty": 0.1,
        "frequencyPenalty": 0.2,
        "topK": 5,
        "thinkingConfig": {"thinkingBudget": 1024, "includeThoughts": True},
    }
    none = to_native({"messages": [user("q")], "tools": tools, "tool_choice": "none"}, _dep())
    assert none["toolConfig"] == {"functionCallingConfig": {"mode": "NONE"}}
    openapi = to_native(
        {
            "messages": [user("q")],
            "response_format": {
                "type": "json_schema",
                "json_schema": {
                    "name": "x",
                    "schema": {
                        "type": "object",
                        "properties": {"a": {"type": "integer"}},
                        "additionalProperties": False,
                    },
                },
            },
        },
        _dep(schema_mode="openapi"),
    )
    assert openapi["generationConfig"] == {
        "responseMimeType": "application/json",
        "responseSchema": {"type": "OBJECT", "properties": {"a": {"type": "INTEGER"}}},
    }


def test_consecutive_roles_merge_and_tool_names_are_recovered() -> None:
    body = to_native(
        {
            "messages": [
                user("a"),
                user([{"type": "text", "text": "b"}]),
                assistant("thinking aloud", [call("c1", "f", {"x": 1}), call("c2", "g", {})]),
                tool_result("c1", "one"),
                tool_result("c2", "two"),
                user("next"),
            ]
        },
        _dep(),
    )
    roles = [c["role"] for c in body["contents"]]
    assert roles == ["user", "model", "user"]
    assert body["contents"][0]["parts"] == [{"text": "a"}, {"text": "b"}]
    model_parts = body["contents"][1]["parts"]
    assert model_parts[0] == {"text": "thinking aloud"}
    assert model_parts[1]["thoughtSignature"] == SKIP_SIGNATURE and "thoughtSignature" not in model_parts[2]
    responses = [p["functionResponse"] for p in body["contents"][2]["parts"][:2]]
    assert responses == [
        {"name": "f", "response": {"return_value": "one"}, "id": "c1"},
        {"name": "g", "response": {"return_value": "two"}, "id": "c2"},
    ]
    assert body["contents"][2]["parts"][2] == {"text": "next"}
    with pytest.raises(BadRequest):
        to_native({"messages": [user("a"), tool_result("nope", "x")]}, _dep())


def test_finish_reasons_and_safety() -> None:
    def reply(reason: str, parts: list[dict[str, Any]] | None = None, **extra: Any) -> dict[str, Any]:
        return {
            "candidates": [{"content": {"parts": parts or [{"text": "x"}], "role": "model"}, "finishReason": reason}],
            **extra,
        }

    assert from_native(reply("MAX_TOKENS"), "m")["choices"][0]["finish_reason"] == "length"
    for reason in ("SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII"):
        assert from_native(reply(reason), "m")["choices"][0]["finish_reason"] == "content_filter"
    assert (
        from_native(reply("STOP", promptFeedback={"blockReason": "OTHER"}), "m")["choices"][0]["finish_reason"]
        == "content_filter"
    )
    with pytest.raises(ContentFiltered):
        from_native({"promptFeedback": {"blockReason": "SAFETY"}, "usageMetadata": {"promptTokenCount": 3}}, "m")
    cached = from_native(
        {
            **reply("STOP"),
            "usageMetadata": {
                "promptTokenCount": 100,
                "candidatesTokenCount": 5,
                "thoughtsTokenCount": 7,
                "cachedContentTokenCount": 60,
            },
        },
        "m",
    )["usage"]
    assert cached == {
        "prompt_tokens": 100,
        "completion_tokens": 12,
        "total_tokens": 112,
        "prompt_tokens_details": {"cached_tokens": 60},
        "completion_tokens_details": {"reasoning_tokens": 7},
    }


def test_error_mapping() -> None:
    rate = parse_error(
        429,
        orjson.dumps(
            {
                "error": {
                    "code": 429,
                    "status": "RESOURCE_EXHAUSTED",
                    "message": "Quota",
                    "details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "37s"}],
                }
            }
        ),
    )
    assert isinstance(rate, UpstreamRateLimited) and rate.retry_after == 37.0 and rate.retryable
    unavailable = parse_error(503, orjson.dumps({"error": {"code": 503, "status": "UNAVAILABLE", "message": "busy"}}))
    assert isinstance(unavailable, UpstreamServerError) and "busy" in unavailable.message
    too_long = parse_error(
        400,
        orjson.dumps(
            {
                "error": {
                    "code": 400,
                    "status": "INVALID_ARGUMENT",
                    "message": (
                        "The input token count (1200000) exceeds the maximum number of tokens allowed (1048576)."
                    ),
                }
            }
        ),
    )
    assert isinstance(too_long, ContextWindowExceeded) and too_long.code == "context_length_exceeded"
    bad = parse_error(
        400,
        orjson.dumps(
            {
                "error": {
                    "code": 400,
                    "status": "INVALID_ARGUMENT",
                    "message": "Invalid JSON payload received.",
                }
            }
        ),
    )
    assert type(bad) is ProviderError and bad.http_status == 400 and "Invalid JSON payload" in bad.message
    denied = parse_error(403, orjson.dumps([{"error": {"code": 403, "status": "PERMISSION_DENIED", "message": "no"}}]))
    assert type(denied) is ProviderError and denied.http_status == 502 and denied.message == "gemini: no"


async def test_stream_error_before_first_chunk(replay_server: Any) -> None:
    error = {"error": {"code": 429, "status": "RESOURCE_EXHAUSTED", "message": "slow down"}}
    base = await replay_server([{"response": {"status": {"code": 429}, "headers": {}, "parsed_body": error}}])
    async with aiohttp.ClientSession() as http:
        provider = GeminiProvider(ProviderContext(http=http))
        deployment = Deployment(id="g", public_name="p", provider="gemini", model="gemini-2.5-flash", api_base=base)
        with pytest.raises(UpstreamRateLimited, match="slow down"):
            async for _ in provider.chat_stream({"messages": [user("hi")]}, deployment):
                pass
    assert replay_server.received[0].path == "/v1beta/models/gemini-2.5-flash:streamGenerateContent"
    assert replay_server.received[0].query == "alt=sse"


def test_recordings_folder_exists() -> None:
    assert Path(RECORDINGS / "gemini").is_dir()
