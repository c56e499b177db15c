"""bedrock: the canonical request → the upstream call.

Bedrock Converse translation checked against real recorded traffic, plus the provider over real
HTTP (SigV4 with fixed fake credentials, bearer API keys, binary event streams).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.providers.bedrock.support import CASES, _case, _deployment, _interactions, normalize, openai_request
from tests.providers.conftest import recorded_request_body
from unigate.errors import (
    BadRequest,
)
from unigate.providers.bedrock import (
    native_url,
    to_native,
)
from unigate.types import Deployment


@pytest.mark.parametrize("name", sorted(CASES))
def test_to_native_matches_recorded_request(name: str) -> None:
    for _, interaction in _interactions(name):
        uri = interaction["request"]["uri"]
        case = _case(name, uri)
        recorded = recorded_request_body(interaction)
        request = {**openai_request(recorded), **case.get("params", {})}
        deployment = _deployment(uri, case.get("options"))
        assert native_url(deployment, uri.endswith("/converse-stream"), deployment.option("region")) == uri
        assert normalize(to_native(request, deployment)) == normalize(recorded)


def _dep(model: str = "us.anthropic.claude-sonnet-4-5-20250929-v1:0", **options: Any) -> Deployment:
    return Deployment(id="b", public_name="p", provider="bedrock", model=model, options=tuple(options.items()))


def test_tool_choice_and_inference_config() -> None:
    tools = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {}}}}]
    base = {"messages": [{"role": "user", "content": "q"}], "tools": tools}
    assert to_native({**base, "tool_choice": "required"}, _dep())["toolConfig"]["toolChoice"] == {"any": {}}
    named = to_native({**base, "tool_choice": {"type": "function", "function": {"name": "f"}}}, _dep())
    assert named["toolConfig"]["toolChoice"] == {"tool": {"name": "f"}}
    assert "toolConfig" not in to_native({**base, "tool_choice": "none"}, _dep())
    body = to_native({**base, "max_completion_tokens": 9, "temperature": 0.3, "top_p": 0.9, "stop": "X"}, _dep())
    assert body["inferenceConfig"] == {"maxTokens": 9, "temperature": 0.3, "topP": 0.9, "stopSequences": ["X"]}
    nova = to_native({**base, "top_k": 5}, _dep("us.amazon.nova-micro-v1:0"))
    assert nova["additionalModelRequestFields"] == {"inferenceConfig": {"topK": 5}}


def test_unsupported_inputs_are_clear_bad_requests() -> None:
    url_image = {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://x/y.png"}}]}
    with pytest.raises(BadRequest, match="Converse needs the bytes"):
        to_native({"messages": [url_image]}, _dep())


def test_json_schema_becomes_converse_structured_output() -> None:
    schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    body = to_native(
        {
            "messages": [{"role": "user", "content": "q"}],
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": "place", "description": "where", "schema": schema},
            },
        },
        _dep(),
    )
    definition = body["outputConfig"]["textFormat"]["structure"]["jsonSchema"]
    assert body["outputConfig"]["textFormat"]["type"] == "json_schema"
    # Converse takes the schema as JSON text, not as an object
    assert json.loads(definition["schema"]) == schema
    assert (definition["name"], definition["description"]) == ("place", "where")
    json_object = to_native(
        {"messages": [{"role": "user", "content": "q"}], "response_format": {"type": "json_object"}}, _dep()
    )
    assert "outputConfig" not in json_object


def test_model_ids_and_arns_stay_one_path_segment() -> None:
    def dep(model: str) -> Deployment:
        return Deployment(id="d", public_name="p", provider="bedrock", model=model)

    arn = "arn:aws:bedrock:us-east-1:123:inference-profile/us.anthropic.claude-x"
    assert native_url(dep(arn), False, "us-east-1") == (
        "https://bedrock-runtime.us-east-1.amazonaws.com/model/"
        "arn%3Aaws%3Abedrock%3Aus-east-1%3A123%3Ainference-profile%2Fus.anthropic.claude-x/converse"
    )
    assert native_url(dep("../admin"), True, "us-east-1").endswith("/model/..%2Fadmin/converse-stream")
