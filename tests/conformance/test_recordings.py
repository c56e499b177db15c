"""Conformance: every recording in the vendored provider-recordings folder, replayed end to end.

For each recorded interaction: a replay upstream (a real HTTP server on loopback) answers with the
recorded response; one gateway process (shared by the whole module) has a deployment of the
recorded provider and model pointed at it; the official ``openai`` SDK sends the OpenAI-format
equivalent of the recorded native request, derived by reading the wire format backwards
(``wire.py``). The outbound request must match the recording (path, messages, system, tools,
parameters, stream flag) and the client must get the recorded reply (text, tool calls, reasoning,
finish reason, usage — or the error). What is deliberately not translated is listed, with the
reason, in ``unsupported.py``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

import openai
import pytest

from tests.conformance.cases import Case, load_cases
from tests.conformance.replay import ReplayUpstream
from tests.conformance.wire import WIRES, Expected
from tests.support.gateway_process import GatewayProcess

CASES = load_cases()
API_KEY = "test-upstream-key"


@dataclass
class Conformance:
    gateway: GatewayProcess
    upstream: ReplayUpstream
    models: dict[str, str]  # case id → public model name
    errors: dict[str, str]  # case id → why its OpenAI request could not be derived


@pytest.fixture(scope="module")
def conformance(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Conformance]:
    upstream = ReplayUpstream()
    models: list[dict[str, Any]] = []
    names: dict[str, str] = {}
    errors: dict[str, str] = {}
    for case in CASES:
        if case.unsupported or case.wire is None:
            continue
        try:
            target = case.target
        except Exception as exc:  # reported by the case's own test
            errors[case.id] = f"{type(exc).__name__}: {exc}"
            continue
        name = names[case.id] = f"case-{len(names)}"
        deployment = {
            "provider": target.provider,
            "model": target.model,
            "api_base": upstream.url + target.base_path,
            "api_key": API_KEY,
            "options": target.options,
        }
        models.append({"name": name, "deployments": [deployment], "routing": {"retries": 0}})
    config = {"local_model": {"enabled": False}, "discover_providers": False, "models": models}
    gateway = GatewayProcess(config=config, workdir=tmp_path_factory.mktemp("conformance")).start()
    try:
        yield Conformance(gateway, upstream, names, errors)
    finally:
        gateway.stop()
        upstream.stop()


def _send(client: openai.OpenAI, model: str, request: dict[str, Any], stream: bool) -> dict[str, Any]:
    """The request through the SDK; the answer folded into one message (as a client sees it)."""
    extra = {k: v for k, v in request.items() if k != "messages"}
    if not stream:
        completion = client.chat.completions.create(model=model, messages=request["messages"], extra_body=extra)
        data = completion.model_dump()
        choice = data["choices"][0]
        return {**choice["message"], "finish_reason": choice["finish_reason"], "usage": data.get("usage")}
    extra["stream_options"] = {**(extra.get("stream_options") or {}), "include_usage": True}
    folded: dict[str, Any] = {"content": "", "reasoning_content": "", "finish_reason": None, "usage": None}
    calls: dict[int, dict[str, Any]] = {}
    for chunk in client.chat.completions.create(
        model=model, messages=request["messages"], stream=True, extra_body=extra
    ):
        data = chunk.model_dump()
        folded["usage"] = data.get("usage") or folded["usage"]
        for choice in data["choices"]:
            delta = choice["delta"]
            folded["content"] += delta.get("content") or ""
            folded["reasoning_content"] += delta.get("reasoning_content") or ""
            for call in delta.get("tool_calls") or ():
                slot = calls.setdefault(call["index"], {"id": None, "function": {"name": "", "arguments": ""}})
                slot["id"] = call.get("id") or slot["id"]
                function = call.get("function") or {}
                slot["function"]["name"] += function.get("name") or ""
                slot["function"]["arguments"] += function.get("arguments") or ""
            folded["finish_reason"] = choice["finish_reason"] or folded["finish_reason"]
    folded["tool_calls"] = [calls[i] for i in sorted(calls)]
    return folded


def _check_reply(got: dict[str, Any], expected: Expected) -> None:
    assert (got.get("content") or "") == expected.text
    assert (got.get("reasoning_content") or "") == expected.reasoning
    calls = got.get("tool_calls") or []
    assert [c["function"]["name"] for c in calls] == [name for name, _ in expected.calls]
    for call, (_, arguments) in zip(calls, expected.calls, strict=True):
        assert call["id"], "every tool call needs an id"
        if arguments is not None:
            assert json.loads(call["function"]["arguments"] or "{}") == arguments
    assert got["finish_reason"] == expected.finish
    usage = got.get("usage") or {}
    if expected.prompt is not None:
        assert usage.get("prompt_tokens") == expected.prompt
    if expected.completion is not None:
        assert usage.get("completion_tokens") == expected.completion
    if expected.total is not None:
        assert usage.get("total_tokens") == expected.total
    elif expected.prompt is not None and expected.completion is not None:
        assert usage.get("total_tokens") == expected.prompt + expected.completion
    assert int((usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0) == expected.cached


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_recording(case: Case, conformance: Conformance) -> None:
    reason = case.unsupported
    if reason is not None:
        pytest.skip(f"unsupported: {reason}")
    assert case.wire is not None, (
        f"{case.method} {case.uri} is not a chat API the gateway speaks; translate it or list it in unsupported.py"
    )
    assert case.id not in conformance.errors, conformance.errors.get(case.id)
    wire = WIRES[case.wire]
    target = case.target
    expected = wire.expected(case.interaction["response"])
    upstream = conformance.upstream
    upstream.serve(case.interaction["response"])
    client = openai.OpenAI(base_url=conformance.gateway.base_url, api_key="unused", max_retries=0)
    model = conformance.models[case.id]

    got: dict[str, Any] | None = None
    error: openai.APIError | None = None
    try:
        got = _send(client, model, target.request, target.stream)
    except openai.APIError as exc:
        error = exc

    # 1. what went upstream is the recorded request
    assert upstream.received, f"nothing reached the upstream (client got {error!r})"
    sent = upstream.received[0]
    assert sent.method == "POST"
    assert unquote(sent.path) == unquote(urlsplit(case.uri).path)
    assert wire.normalize(sent.json()) == wire.normalize(case.body)

    # 2. what the client got is the recorded reply
    if expected.error_status is not None:
        assert error is not None, f"expected an error, the client got {got!r}"
        if expected.error_status:
            assert isinstance(error, openai.APIStatusError) and error.status_code == expected.error_status
        if expected.error_text:
            assert expected.error_text in str(error.message) or expected.error_text in str(error.body)
        return
    assert error is None, f"client got an error: {error!r}"
    assert got is not None
    _check_reply(got, expected)
