"""Bad input gets a clear OpenAI-shaped error with the right status — never a 500."""

from __future__ import annotations

import json

import httpx
import openai
import pytest

from tests.conftest import openai_model
from tests.support.fake_upstream import Mode
from tests.support.gateway_process import free_port


@pytest.fixture
def gateway(start_gateway, upstream):
    return start_gateway(
        {
            "server": {"max_body_bytes": 4096},
            "models": [openai_model("gpt-4o-mini", upstream.base_url, timeouts={"first_token": 1.5, "total": 3})],
        }
    )


def post(gateway, body, content_type="application/json", path="/v1/chat/completions") -> httpx.Response:
    data = body if isinstance(body, bytes | str) else json.dumps(body)
    return httpx.post(gateway.url + path, content=data, headers={"content-type": content_type}, timeout=30)


def assert_error(response: httpx.Response, status: int, *, code: str | None = None, param: str | None = None) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["x-request-id"].startswith("req_")
    error = response.json()["error"]
    assert isinstance(error["message"], str) and error["message"]
    assert set(error) >= {"message", "type", "param", "code"}
    if code is not None:
        assert error["code"] == code
    if param is not None:
        assert error["param"] == param
    return error


GOOD = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"messages": [{"role": "user", "content": "hi"}]}, "model"),
        ({"model": "gpt-4o-mini"}, "messages"),
        ({"model": "gpt-4o-mini", "messages": []}, "messages"),
        ({"model": "gpt-4o-mini", "messages": "hi"}, "messages"),
        ({"model": 5, "messages": [{"role": "user", "content": "hi"}]}, "model"),
        ({**GOOD, "messages": [{"role": "wizard", "content": "hi"}]}, "messages[0].role"),
        ({**GOOD, "messages": [{"role": "user"}]}, "messages[0].content"),
        ({**GOOD, "messages": [{"role": "user", "content": [{"type": "video"}]}]}, "messages[0].content[0].type"),
        ({**GOOD, "messages": [{"role": "tool", "content": "x"}]}, "messages[0].tool_call_id"),
        ({**GOOD, "temperature": "hot"}, "temperature"),
        ({**GOOD, "temperature": 9}, "temperature"),
        ({**GOOD, "max_tokens": 0}, "max_tokens"),
        ({**GOOD, "max_tokens": 1.5}, "max_tokens"),
        ({**GOOD, "stream": "yes"}, "stream"),
        ({**GOOD, "stop": [1, 2]}, "stop"),
        ({**GOOD, "tools": [{"type": "function", "function": {}}]}, "tools[0].function.name"),
        ({**GOOD, "response_format": {"type": "xml"}}, "response_format.type"),
        # each of these was a 500 before it was validated
        ({**GOOD, "messages": [{"role": ["user"], "content": "hi"}]}, "messages[0].role"),
        ({**GOOD, "messages": [{"role": "user", "content": [{"type": ["text"]}]}]}, "messages[0].content[0].type"),
        ({**GOOD, "functions": "f"}, "functions"),
        ({**GOOD, "functions": [{"name": 3}]}, "functions[0].name"),
        ({**GOOD, "function_call": 7}, "function_call"),
        ({**GOOD, "tool_choice": 7}, "tool_choice"),
        (
            {**GOOD, "tools": [{"type": "function", "function": {"name": "f", "parameters": "x"}}]},
            "tools[0].function.parameters",
        ),
        ({**GOOD, "logit_bias": [1]}, "logit_bias"),
        (
            {**GOOD, "messages": [{"role": "assistant", "tool_calls": [{"function": "f"}]}]},
            "messages[0].tool_calls[0].function.name",
        ),
        ({**GOOD, "model": "openai/" + "x" * 250}, "model"),
        ({**GOOD, "model": "openai/../../admin?x=1"}, "model"),
        ({**GOOD, "model": "azure/x/../../admin"}, "model"),
        ({**GOOD, "model": "openai//x"}, "model"),
        ({**GOOD, "model": "gpt 4o\n"}, "model"),
    ],
)
def test_invalid_fields_are_400_with_param(gateway, upstream, body, param):
    assert_error(post(gateway, body), 400, param=param)
    assert upstream.chat_calls() == []  # nothing reached the upstream


def test_malformed_json(gateway):
    error = assert_error(post(gateway, b'{"model": "gpt-4o-mini", "messages": ['), 400, code="invalid_json")
    assert "JSON" in error["message"]


def test_non_object_json(gateway):
    assert_error(post(gateway, b"[1, 2]"), 400, code="invalid_json")


def test_deeply_nested_json_is_a_400(gateway, upstream):
    deep: object = "x"
    for _ in range(200):
        deep = [deep]
    error = assert_error(post(gateway, {**GOOD, "metadata": {"deep": deep}}), 400, code="invalid_json")
    assert "nested" in error["message"]
    assert upstream.chat_calls() == []


@pytest.mark.parametrize(
    ("value", "param"),
    [([1, 2, 3], "input[0]"), ([[1, 2], [3]], "input[0]"), ([], "input"), (5, "input"), (["ok", None], "input[1]")],
)
def test_embedding_inputs_other_than_strings_are_a_400(gateway, value, param):
    body = {"model": "gpt-4o-mini", "input": value}
    assert_error(post(gateway, body, path="/v1/embeddings"), 400, param=param)


def test_empty_body(gateway):
    assert_error(post(gateway, b""), 400)


def test_wrong_content_type(gateway):
    assert_error(post(gateway, GOOD, content_type="text/plain"), 415, code="unsupported_media_type")


def test_body_over_limit_is_413(gateway, upstream):
    big = {**GOOD, "messages": [{"role": "user", "content": "x" * 10_000}]}
    assert_error(post(gateway, big), 413)
    assert upstream.chat_calls() == []


def test_unknown_model_is_404_model_not_found(gateway):
    client = openai.OpenAI(base_url=gateway.base_url, api_key="x", max_retries=0)
    with pytest.raises(openai.NotFoundError) as info:
        client.chat.completions.create(model="no-such-model", messages=[{"role": "user", "content": "hi"}])
    assert info.value.code == "model_not_found"


def test_unknown_endpoint_and_method(gateway):
    assert_error(httpx.get(gateway.url + "/v1/nothing"), 404)
    assert_error(httpx.get(gateway.url + "/v1/chat/completions"), 405)


@pytest.mark.parametrize(
    ("mode", "status", "error_class"),
    [
        (Mode("status", status=400, message="bad logit_bias"), 400, openai.BadRequestError),
        (Mode("status", status=404, message="no such upstream model"), 404, openai.NotFoundError),
        (Mode("status", status=422, message="unprocessable"), 422, openai.UnprocessableEntityError),
        (Mode("status", status=401, message="upstream key revoked"), 502, openai.InternalServerError),
        (Mode("status", status=429, message="slow down", retry_after=7), 429, openai.RateLimitError),
        (Mode("status", status=500, message="boom"), 502, openai.InternalServerError),
        (Mode("status", status=503, message="overloaded"), 502, openai.InternalServerError),
        (Mode("malformed"), 502, openai.InternalServerError),
        (Mode("hang"), 504, openai.InternalServerError),
        (Mode("reset"), 502, openai.InternalServerError),
    ],
)
def test_upstream_failures_map_to_status_and_keep_message(start_gateway, make_upstream, mode, status, error_class):
    up = make_upstream(mode)
    gateway = start_gateway(
        {
            "models": [
                {
                    **openai_model("m", up.base_url, timeouts={"first_token": 1, "total": 2}),
                    "routing": {"retries": 0},
                }
            ]
        }
    )
    client = openai.OpenAI(base_url=gateway.base_url, api_key="x", max_retries=0)
    with pytest.raises(error_class) as info:
        client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
    assert info.value.status_code == status
    if mode.kind == "status":
        assert mode.message in str(info.value)
    if mode.retry_after:
        assert info.value.response.headers["retry-after"] == "7"


def test_unreachable_upstream_is_502(start_gateway):
    dead = f"http://127.0.0.1:{free_port()}/v1"
    gateway = start_gateway({"models": [{**openai_model("m", dead), "routing": {"retries": 0}}]})
    response = post(gateway, {**GOOD, "model": "m"})
    error = assert_error(response, 502, code="upstream_unreachable")
    assert "unreachable" in error["message"]


def test_stream_error_before_first_chunk_is_an_http_error(start_gateway, make_upstream):
    up = make_upstream(Mode("status", status=400, message="bad stream request"))
    gateway = start_gateway({"models": [openai_model("m", up.base_url)]})
    client = openai.OpenAI(base_url=gateway.base_url, api_key="x", max_retries=0)
    with pytest.raises(openai.BadRequestError):
        list(client.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}], stream=True))


def test_stream_cut_after_content_ends_with_error_event(start_gateway, make_upstream):
    up = make_upstream(Mode("stream_cut", chunks=6, text="abcdefghijkl"))
    gateway = start_gateway({"models": [{**openai_model("m", up.base_url), "routing": {"retries": 0}}]})
    client = openai.OpenAI(base_url=gateway.base_url, api_key="x", max_retries=0)
    received = []
    with pytest.raises(openai.APIError) as info:
        for chunk in client.chat.completions.create(
            model="m", messages=[{"role": "user", "content": "x"}], stream=True
        ):
            received.append(chunk)
    assert any(c.choices and c.choices[0].delta.content for c in received)
    assert "closed the connection" in str(info.value) or "upstream" in str(info.value)


class TestMasterKey:
    @pytest.fixture
    def gateway(self, start_gateway, upstream):
        return start_gateway(
            {"server": {"master_key": "env:TEST_MASTER"}, "models": [openai_model("gpt-4o-mini", upstream.base_url)]},
            env={"TEST_MASTER": "sk-master-123"},
        )

    def test_missing_and_wrong_keys_are_401(self, gateway):
        assert_error(post(gateway, GOOD), 401, code="missing_api_key")
        wrong = httpx.post(
            gateway.url + "/v1/chat/completions", json=GOOD, headers={"authorization": "Bearer sk-wrong"}
        )
        assert_error(wrong, 401, code="invalid_api_key")
        with pytest.raises(openai.AuthenticationError):
            openai.OpenAI(base_url=gateway.base_url, api_key="nope", max_retries=0).models.list()

    def test_master_key_works_and_health_stays_public(self, gateway):
        client = openai.OpenAI(base_url=gateway.base_url, api_key="sk-master-123", max_retries=0)
        assert client.chat.completions.create(**GOOD).choices[0].message.content == "echo: hi"
        assert httpx.get(gateway.url + "/health/live").status_code == 200
