"""Property-based fuzzing of the text surfaces and the admin API against a real gateway process.

Each surface starts from a valid body; hypothesis mutates it (a value anywhere replaced by any
JSON value, a key removed, a known field added with any value) or sends raw garbage or deeply
nested JSON (``tests/support/fuzz.py``). The property: no response has a status of 500 or more,
and every error has its surface's shape (OpenAI-shaped on OpenAI routes and the admin API,
Anthropic-shaped on ``/v1/messages`` and ``count_tokens``). The media, Responses and batch
surfaces are fuzzed in ``test_fuzz_media.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import openai_model
from tests.support.fake_upstream import FakeUpstream, ThreadedUpstream
from tests.support.fuzz import FUZZ, MASTER, TALLY, cases, check, send
from tests.support.gateway_process import GatewayProcess

CHAT = {
    "model": "gpt-4o-mini",
    "messages": [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": [{"type": "text", "text": "hi"}]},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "ok"},
        {"role": "user", "content": "and now?"},
    ],
    "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
    "tool_choice": "auto",
    "max_tokens": 5,
    "temperature": 0.5,
    "stop": ["zz"],
    "response_format": {"type": "text"},
    "stream": False,
    "n": 1,
}
CHAT_FIELDS = [
    "functions", "function_call", "tool_choice", "logit_bias", "user", "seed", "stream_options", "models",
    "route", "metadata", "parallel_tool_calls", "logprobs", "top_logprobs", "modalities", "audio",
    "prediction", "reasoning_effort", "max_completion_tokens", "presence_penalty", "role", "content",
    "tool_calls", "name", "type", "image_url", "url", "function", "arguments", "input_audio", "file",
]  # fmt: skip

EMBEDDINGS = {"model": "text-embedding-3-small", "input": ["one", "two"], "encoding_format": "float"}
EMBEDDING_FIELDS = ["input", "dimensions", "user", "encoding_format", "model"]

MESSAGES = {
    "model": "gpt-4o-mini",
    "max_tokens": 5,
    "system": [{"type": "text", "text": "be brief", "cache_control": {"type": "ephemeral"}}],
    "messages": [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "hi"},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AAAA"}},
                {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "doc"}},
            ],
        },
        {
            "role": "assistant",
            "content": [
                {"type": "thinking", "thinking": "hm", "signature": "sig"},
                {"type": "text", "text": "calling"},
                {"type": "tool_use", "id": "t1", "name": "f", "input": {"a": 1}},
            ],
        },
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "ok", "is_error": False}]},
    ],
    "tools": [{"name": "f", "description": "d", "input_schema": {"type": "object"}}],
    "tool_choice": {"type": "auto", "disable_parallel_tool_use": True},
    "metadata": {"user_id": "u1"},
    "thinking": {"type": "enabled", "budget_tokens": 1024},
    "stop_sequences": ["zz"],
    "temperature": 0.5,
    "stream": False,
}
MESSAGES_FIELDS = [
    "system", "tools", "tool_choice", "metadata", "thinking", "top_k", "stop_sequences", "source",
    "content", "type", "text", "input", "tool_use_id", "is_error", "name", "id", "signature", "data",
    "cache_control", "stream", "role", "media_type", "url", "title", "budget_tokens",
]  # fmt: skip
COUNT_TOKENS = {k: v for k, v in MESSAGES.items() if k not in ("max_tokens", "stream")}

FEEDBACK_FIELDS = ["request_id", "score", "label", "comment"]
KEY = {
    "name": "fuzzed",
    "credit": 1.0,
    "budget": 2.0,
    "budget_period": "daily",
    "rpm": 100,
    "tpm": 10000,
    "max_concurrency": 5,
    "models": ["gpt-4o-mini"],
    "tags": ["a"],
    "metadata": {"k": "v"},
    "expires_at": "2099-01-01T00:00:00Z",
}
KEY_FIELDS = [*KEY, "enabled", "owner", "team_id", "amount"]
TEAM = {"name": "fuzzed-team", "credit": 5.0, "budget": 1.0, "budget_period": "monthly", "rpm": 10}


@pytest.fixture(scope="module")
def fuzz_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    upstream = ThreadedUpstream(FakeUpstream())
    workdir = tmp_path_factory.mktemp("fuzz")
    config = {
        "local_model": {"enabled": False},
        "server": {"master_key": MASTER, "max_body_bytes": 1_000_000},
        "models": [
            openai_model("gpt-4o-mini", upstream.base_url),
            openai_model("text-embedding-3-small", upstream.base_url),
        ],
        "observability": {"log_requests": False},
    }
    gateway = GatewayProcess(config=config, workdir=workdir).start()
    yield gateway
    gateway.stop()
    upstream.stop()
    print(
        f"\nfuzz: {TALLY.cases} cases, {TALLY.server_errors} responses >= 500, statuses {sorted(TALLY.by_status.items())}"
    )


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    with httpx.Client() as http:
        yield http


SURFACES = [
    ("POST", "/v1/chat/completions", CHAT, CHAT_FIELDS, "openai"),
    ("POST", "/v1/embeddings", EMBEDDINGS, EMBEDDING_FIELDS, "openai"),
    ("POST", "/v1/messages", MESSAGES, MESSAGES_FIELDS, "anthropic"),
    ("POST", "/v1/messages/count_tokens", COUNT_TOKENS, MESSAGES_FIELDS, "anthropic"),
    ("POST", "/admin/keys", KEY, KEY_FIELDS, "openai"),
    ("POST", "/admin/teams", TEAM, KEY_FIELDS, "openai"),
]


@pytest.mark.parametrize(("method", "path", "template", "fields", "shape"), SURFACES, ids=[s[1] for s in SURFACES])
def test_no_body_makes_a_5xx_and_errors_keep_their_surface_shape(
    fuzz_gateway, client, method, path, template, fields, shape
):
    @FUZZ
    @given(body=cases(template, fields))
    def run(body: Any) -> None:
        check(send(fuzz_gateway, method, path, body, client), shape, body)

    run()


def test_feedback_and_key_updates_survive_fuzzing(fuzz_gateway, client):
    """Feedback on a real request id, and PATCH / top-up of a real key, with mutated bodies."""
    answer = client.post(
        fuzz_gateway.base_url + "/chat/completions",
        json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]},
        headers={"authorization": f"Bearer {MASTER}"},
    )
    feedback = {"request_id": answer.headers["x-request-id"], "score": 0.5, "label": "good", "comment": "fine"}
    created = client.post(
        fuzz_gateway.url + "/admin/keys", json={"name": "target"}, headers={"authorization": f"Bearer {MASTER}"}
    )
    key_id = created.json()["id"]

    @FUZZ
    @given(
        target=st.sampled_from(
            [
                ("/v1/feedback", feedback, FEEDBACK_FIELDS),
                (f"/admin/keys/{key_id}/topup", {"amount": 1.0}, KEY_FIELDS),
                (f"/admin/teams/{key_id}/topup", {"amount": 1.0}, KEY_FIELDS),
            ]
        ),
        data=st.data(),
    )
    def run(target: tuple[str, dict[str, Any], list[str]], data: st.DataObject) -> None:
        path, template, fields = target
        body = data.draw(cases(template, fields))
        check(send(fuzz_gateway, "POST", path, body, client), "openai", body)
        patch = data.draw(cases(KEY, KEY_FIELDS))
        check(send(fuzz_gateway, "PATCH", f"/admin/keys/{key_id}", patch, client), "openai", patch)

    run()
    listing = client.get(fuzz_gateway.url + "/admin/keys", headers={"authorization": f"Bearer {MASTER}"})
    assert listing.status_code == 200, listing.text  # whatever was stored, the keys still list
