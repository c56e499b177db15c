"""Helpers shared by the gemini provider tests."""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Callable
from typing import Any

from tests.providers.conftest import load_recording, recorded_request_body, recorded_response_body
from unigate.providers.gemini import (
    from_native,
)
from unigate.types import Deployment

# Recordings (or single interactions, "file#index") deliberately not translated, with the reason.
UNSUPPORTED: dict[str, str] = {
    "test_google_model_thinking_part_from_other_model.yaml#0": (
        "interaction 0 is an OpenAI Responses API call (another provider); the Gemini interaction is tested"
    ),
}


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


_SNAKE = {"file_uri": "fileUri", "mime_type": "mimeType", "parameters_json_schema": "parametersJsonSchema"}
