"""Azure OpenAI's Batch API through the OpenAI client (``/openai/files``, ``/openai/batches``
with an api-version, the deployment name as the model, ``api-key`` auth), against the fake Batch
API on loopback; and a refused submit, whose error never shows the provider key."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.fake_batch_upstream import FakeBatchUpstream
from tests.support.fake_upstream import ThreadedUpstream
from unigate.providers.batch_api import RemoteError
from unigate.providers.batch_api.openai import OpenAIBatches
from unigate.providers.shell import new_session
from unigate.types import Deployment

KEY = "azure-key-0123456789"


@pytest.fixture
def fake() -> Iterator[Any]:
    threaded = ThreadedUpstream(FakeBatchUpstream(hold=False))  # type: ignore[arg-type]
    yield threaded
    threaded.stop()


def azure(api_base: str) -> Deployment:
    return Deployment(
        id="d", public_name="gpt-4o", provider="azure", model="my-gpt4o-batch", api_base=api_base, api_key=KEY
    )


def test_azure_batch_round_trip(fake: Any) -> None:
    async def scenario() -> None:
        async with new_session() as http:
            client = OpenAIBatches(http, azure(fake.root_url), "/v1/chat/completions")
            body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}], "route": {"x": 1}}
            line = client.prepare(7, body)
            assert line == {
                "custom_id": "line-7",
                "method": "POST",
                "url": "/chat/completions",
                "body": {"model": "my-gpt4o-batch", "messages": [{"role": "user", "content": "hi"}]},
            }
            remote = await client.submit("batch_abc", [line])
            assert await client.find("batch_abc") == remote
            progress = await client.poll(remote)
            assert progress.state == "completed" and progress.completed == 1
            (outcome,) = await client.results(remote)
            assert outcome.line_no == 7 and outcome.status_code == 200
            assert outcome.usage is not None and outcome.usage["prompt_tokens"] == 10

    asyncio.run(scenario())
    paths = [path for _method, path, _headers in fake.seen]
    assert paths[0] == "/openai/files?api-version=2024-10-21"
    assert all(p.startswith("/openai/") and "api-version=" in p for p in paths)
    assert all(headers.get("api-key") == KEY and "authorization" not in headers for *_, headers in fake.seen)


def test_a_refused_submit_is_permanent_and_hides_the_key(fake: Any) -> None:
    async def scenario() -> RemoteError:
        async with new_session() as http:
            client = OpenAIBatches(http, azure(fake.root_url + f"/nowhere/{KEY}"), "/v1/chat/completions")
            with pytest.raises(RemoteError) as refused:
                await client.submit("batch_x", [client.prepare(1, {"model": "m", "messages": []})])
            return refused.value

    error = asyncio.run(scenario())
    assert error.status == 404 and error.permanent
    assert KEY not in error.message
