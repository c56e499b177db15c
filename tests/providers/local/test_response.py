"""local: upstream replies → the canonical response.

The embedded llama.cpp provider, run against the real SmolLM2-135M GGUF on real threads.

One provider (one loaded model) is shared by the module; a second, small one (max_queue=1,
n_ctx=256) covers back-pressure and the context window. Generations stay ≤ 16 tokens except
where a test needs a generation that is long enough to interrupt.
"""

from __future__ import annotations

import json
from typing import Any

from tests.providers.local.support import PUBLIC, deployment, request, templated_prompt_tokens
from unigate.providers.local import LocalProvider


async def test_chat_answers_with_exact_usage(provider: LocalProvider, reference: Any) -> None:
    body = request(max_tokens=8, temperature=0)
    response = await provider.chat(body, deployment())

    assert response["object"] == "chat.completion"
    assert response["id"].startswith("chatcmpl-")
    assert response["model"] == PUBLIC
    choice = response["choices"][0]
    assert choice["message"]["role"] == "assistant"
    assert choice["message"]["content"].strip()
    usage = response["usage"]
    assert usage["prompt_tokens"] == len(templated_prompt_tokens(reference, body["messages"]))
    assert choice["finish_reason"] == "length"
    assert usage["completion_tokens"] == 8
    # the 8 counted tokens are the text returned (greedy output re-tokenizes to itself)
    assert len(reference.tokenize(choice["message"]["content"].encode(), add_bos=False)) == 8
    assert usage["total_tokens"] == usage["prompt_tokens"] + 8


async def test_stop_sequence_cuts_the_text_and_finishes_with_stop(provider: LocalProvider) -> None:
    full = await provider.chat(request(max_tokens=16, temperature=0), deployment())
    text = full["choices"][0]["message"]["content"]
    words = text.split()
    assert len(words) >= 3, text
    stop = " " + words[2]
    cut = await provider.chat(request(max_tokens=16, temperature=0, stop=[stop, "#never#"]), deployment())
    assert cut["choices"][0]["message"]["content"] == text[: text.index(stop)]
    assert cut["choices"][0]["finish_reason"] == "stop"
    assert cut["usage"]["completion_tokens"] < full["usage"]["completion_tokens"]


async def test_json_schema_response_format_is_enforced(provider: LocalProvider) -> None:
    schema = {
        "type": "object",
        "properties": {"ok": {"type": "boolean"}},
        "required": ["ok"],
        "additionalProperties": False,
    }
    body = request(
        "Is water wet? Answer in JSON.",
        max_tokens=16,
        temperature=0,
        response_format={"type": "json_schema", "json_schema": {"name": "answer", "schema": schema}},
    )
    response = await provider.chat(body, deployment())
    parsed = json.loads(response["choices"][0]["message"]["content"])
    assert set(parsed) == {"ok"} and isinstance(parsed["ok"], bool)
    assert response["choices"][0]["finish_reason"] == "stop"
