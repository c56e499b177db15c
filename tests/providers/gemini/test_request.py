"""gemini: the canonical request → the upstream call.

Gemini translation checked against real recorded traffic, plus the provider over real HTTP.

For every recording in the gemini folder (except those in ``UNSUPPORTED``) the test builds the
OpenAI-format request a client would send, checks ``to_native`` against the recorded request,
and feeds the recorded reply through ``from_native`` / the stream translator. The same cases
then run through :class:`GeminiProvider` against a replay server on 127.0.0.1.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from tests.providers.conftest import recorded_request_body
from tests.providers.gemini.support import (
    CASES,
    COUNTRY_Q,
    _b64,
    _deployment,
    _gemini_interactions,
    _signature_round_trip,
    assistant,
    call,
    function,
    normalize,
    obj,
    recorded,
    tool_result,
    user,
)
from unigate.errors import (
    BadRequest,
)
from unigate.providers.gemini import (
    SKIP_SIGNATURE,
    native_url,
    to_native,
)
from unigate.providers.gemini.schema import to_openapi_schema
from unigate.types import Deployment

# Differences between the recorded client (pydantic-ai) and an OpenAI-format request that are
# not meaning: responseModalities ["TEXT"] is Gemini's default, systemInstruction.role is ignored
# by Gemini, proto JSON accepts snake_case and camelCase field names, and bytes fields accept
# standard and URL-safe base64. The VALIDATED function-calling mode is AUTO plus server-side
# argument validation; OpenAI's "auto" has no way to ask for it.


def _expected_strip_thought_signatures(body: dict[str, Any], ours: dict[str, Any]) -> None:
    """A functionCall part we send always has a signature (real or the documented dummy); the recorded
    client sent the dummy only for Gemini 3-era models. Text-part signatures are not replayed."""
    for theirs_c, ours_c in zip(body.get("contents", []), ours.get("contents", []), strict=False):
        for theirs_p, ours_p in zip(theirs_c["parts"], ours_c["parts"], strict=False):
            if "functionCall" in ours_p and "thoughtSignature" not in theirs_p:
                assert ours_p.pop("thoughtSignature") == _b64(SKIP_SIGNATURE)
            if "text" in theirs_p and "thoughtSignature" in theirs_p:
                del theirs_p["thoughtSignature"]


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


def test_client_chosen_model_names_stay_one_path_segment() -> None:
    # "gemini/<model>" is client-chosen: it must not climb out of models/ nor start a query
    dev = Deployment(id="d", public_name="p", provider="gemini", model="../../v1/files?x=", api_base="https://g")
    assert native_url(dev, stream=False) == "https://g/v1beta/models/..%2F..%2Fv1%2Ffiles%3Fx%3D:generateContent"
    vertex = Deployment(
        id="d",
        public_name="p",
        provider="gemini",
        model="m/../x",
        options=(("vertex_project", "proj/../other"), ("vertex_location", "us-central1")),
    )
    assert native_url(vertex, stream=True) == (
        "https://us-central1-aiplatform.googleapis.com/v1beta1/projects/proj%2F..%2Fother/locations/us-central1"
        "/publishers/google/models/m%2F..%2Fx:streamGenerateContent?alt=sse"
    )
    with pytest.raises(BadRequest, match="vertex_location"):
        native_url(
            replace(vertex, options=(("vertex_project", "p"), ("vertex_location", "evil.com/"))),
            stream=False,
        )
