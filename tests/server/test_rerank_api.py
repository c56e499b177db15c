"""/v1/rerank in the Cohere/Jina shape, to Cohere and to a vLLM/Jina-style server."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.support.fake_media import ThreadedMedia
from tests.support.gateway_process import GatewayProcess
from tests.support.media_gateway import media_models

DOCS = ["the cat sat on the mat", "stock prices fell", "a cat and a dog", {"text": "weather is fine"}]


@pytest.fixture(scope="module")
def gateway(fake: ThreadedMedia, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    config = {"local_model": {"enabled": False}, "discover_providers": False, "models": media_models(fake)}
    process = GatewayProcess(config=config, workdir=tmp_path_factory.mktemp("rerank")).start()
    yield process
    process.stop()


@pytest.mark.parametrize("model", ["rerank-cohere", "rerank-local", "rerank-bedrock"])
def test_rerank(gateway: GatewayProcess, fake: ThreadedMedia, model: str) -> None:
    before = len(fake.seen)
    reply = httpx.post(
        f"{gateway.base_url}/rerank",
        json={"model": model, "query": "cat", "documents": DOCS, "top_n": 2, "return_documents": True},
    )
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert [r["index"] for r in body["results"]] in ([0, 2], [2, 0])
    assert body["results"][0]["document"]["text"] in (DOCS[0], DOCS[2])
    assert body["results"][0]["relevance_score"] >= body["results"][1]["relevance_score"]
    sent = fake.seen[before]
    assert sent.json["documents"][3] == "weather is fine" and sent.json["top_n"] == 2
    if model == "rerank-cohere":
        assert sent.path == "/v2/rerank"
        assert float(reply.headers["x-unigate-cost"]) == pytest.approx(0.002)
    elif model == "rerank-bedrock":
        assert sent.path == "/model/cohere.rerank-v3-5:0/invoke" and sent.json["api_version"] == 2
        assert sent.headers["authorization"] == "Bearer sk-upstream-secret"  # a Bedrock API key
        assert float(reply.headers["x-unigate-cost"]) == pytest.approx(0.002)
    else:
        assert sent.path == "/v1/rerank" and sent.json["model"] == "bge-reranker"


def test_without_documents_in_the_answer(gateway: GatewayProcess) -> None:
    reply = httpx.post(f"{gateway.base_url}/rerank", json={"model": "rerank-cohere", "query": "cat", "documents": DOCS})
    assert all("document" not in r for r in reply.json()["results"]) and len(reply.json()["results"]) == 4


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"model": "rerank-cohere", "documents": ["a"]}, "query"),
        ({"model": "rerank-cohere", "query": "q", "documents": []}, "documents"),
        ({"model": "rerank-cohere", "query": "q", "documents": [3]}, "documents[0]"),
        ({"model": "rerank-cohere", "query": "q", "documents": ["a"], "top_n": 0}, "top_n"),
    ],
)
def test_bad_input(gateway: GatewayProcess, body: dict[str, object], param: str) -> None:
    reply = httpx.post(f"{gateway.base_url}/rerank", json=body)
    assert reply.status_code == 400 and reply.json()["error"]["param"] == param


def test_wrong_model_kind(gateway: GatewayProcess) -> None:
    reply = httpx.post(f"{gateway.base_url}/rerank", json={"model": "tts-1", "query": "q", "documents": ["a"]})
    assert reply.status_code == 400 and reply.json()["error"]["code"] == "model_not_supported"
