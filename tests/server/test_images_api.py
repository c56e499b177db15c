"""/v1/images/*: the openai SDK through the gateway to fake OpenAI and Gemini (native and Imagen)
upstreams; b64_json and url answers; per-image prices in the header and the ledger."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import httpx
import openai
import pytest

from tests.support.fake_media import PNG, ThreadedMedia
from tests.support.gateway_process import GatewayProcess
from tests.support.media_gateway import media_models


@pytest.fixture(scope="module")
def gateway(fake: ThreadedMedia, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    config = {
        "local_model": {"enabled": False},
        "discover_providers": False,
        "models": media_models(fake),
        "media": {"max_image_bytes": 100_000},
    }
    process = GatewayProcess(config=config, workdir=tmp_path_factory.mktemp("images")).start()
    yield process
    process.stop()


@pytest.fixture
def client(gateway: GatewayProcess) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.base_url, api_key="unused", max_retries=0)


def test_generate_b64_with_per_image_price(client: openai.OpenAI, fake: ThreadedMedia) -> None:
    before = len(fake.seen)
    raw = client.images.with_raw_response.generate(
        model="dall-e-3", prompt="a dot", n=2, size="1024x1024", quality="hd", response_format="b64_json"
    )
    result = raw.parse()
    assert len(result.data) == 2 and base64.b64decode(result.data[0].b64_json or "") == PNG
    assert float(raw.headers["x-unigate-cost"]) == pytest.approx(2 * 0.08)
    assert fake.seen[before].json["model"] == "dall-e-3" and fake.seen[before].json["quality"] == "hd"


def test_upstream_urls_pass_through(client: openai.OpenAI, fake: ThreadedMedia) -> None:
    result = client.images.generate(model="dall-e-3", prompt="a dot", response_format="url")
    assert result.data[0].url == f"{fake.root_url}/fake-image-0.png"


def test_gemini_generates_natively_and_url_is_served_by_the_gateway(
    client: openai.OpenAI, fake: ThreadedMedia, gateway: GatewayProcess
) -> None:
    before = len(fake.seen)
    raw = client.images.with_raw_response.generate(
        model="gemini-image", prompt="a red dot", n=2, size="1792x1024", response_format="url"
    )
    result = raw.parse()
    calls = fake.seen[before:]
    assert len(calls) == 2 and all(c.path.endswith("gemini-2.5-flash-image:generateContent") for c in calls)
    config = calls[0].json["generationConfig"]
    assert config["responseModalities"] == ["IMAGE"] and config["imageConfig"] == {"aspectRatio": "16:9"}
    assert calls[0].json["contents"][0]["parts"][-1] == {"text": "a red dot"}
    url = result.data[0].url or ""
    assert url.startswith(gateway.url + "/v1/images/content/")
    image = httpx.get(url)
    assert image.status_code == 200 and image.content == PNG and image.headers["content-type"] == "image/png"
    assert float(raw.headers["x-unigate-cost"]) == pytest.approx(2 * 0.039)
    assert httpx.get(gateway.url + "/v1/images/content/" + "0" * 32).status_code == 404


def test_imagen_predict(client: openai.OpenAI, fake: ThreadedMedia) -> None:
    before = len(fake.seen)
    result = client.images.generate(model="imagen", prompt="a dot", n=3)
    assert len(result.data) == 3 and result.data[0].b64_json
    sent = fake.seen[before]
    assert sent.path.endswith("imagen-4.0-generate-001:predict")
    assert sent.json == {"instances": [{"prompt": "a dot"}], "parameters": {"sampleCount": 3}}


def test_edit_with_mask(client: openai.OpenAI, fake: ThreadedMedia) -> None:
    before = len(fake.seen)
    raw = client.images.with_raw_response.edit(
        model="dall-e-2",
        image=("in.png", PNG, "image/png"),
        mask=("mask.png", PNG, "image/png"),
        prompt="add a hat",
        n=1,
        size="512x512",
        response_format="b64_json",
    )
    assert raw.parse().data[0].b64_json
    sent = fake.seen[before]
    assert sent.files["image"][0][2] == PNG and sent.files["mask"][0][2] == PNG
    assert sent.fields["prompt"] == ["add a hat"] and sent.fields["model"] == ["dall-e-2"]
    assert float(raw.headers["x-unigate-cost"]) == pytest.approx(0.018)


def test_gemini_edit_sends_the_image_inline(client: openai.OpenAI, fake: ThreadedMedia) -> None:
    before = len(fake.seen)
    client.images.edit(model="gemini-image", image=("in.png", PNG, "image/png"), prompt="make it blue")
    parts = fake.seen[before].json["contents"][0]["parts"]
    assert parts[0]["inlineData"]["data"] == base64.b64encode(PNG).decode()
    assert parts[-1] == {"text": "make it blue"}


# -- bad input ---------------------------------------------------------------------------------


def test_missing_prompt(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as exc:
        client.images.generate(model="dall-e-3", prompt="")
    assert exc.value.response.json()["error"]["param"] == "prompt"


def test_too_many_images(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as exc:
        client.images.generate(model="dall-e-3", prompt="x", n=11)
    assert exc.value.response.json()["error"]["param"] == "n"


def test_wrong_model_kind(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as exc:
        client.images.generate(model="whisper-1", prompt="x")
    error = exc.value.response.json()["error"]
    assert error["code"] == "model_not_supported" and "whisper-1" in error["message"]


def test_edit_needs_an_image(gateway: GatewayProcess) -> None:
    reply = httpx.post(f"{gateway.base_url}/images/edits", files={"model": (None, "dall-e-2"), "prompt": (None, "x")})
    assert reply.status_code == 400 and reply.json()["error"]["param"] == "image"


def test_edit_with_an_empty_or_oversize_or_non_image(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError):
        client.images.edit(model="dall-e-2", image=("in.png", b"", "image/png"), prompt="x")
    with pytest.raises(openai.APIStatusError) as exc:
        client.images.edit(model="dall-e-2", image=("in.png", b"\0" * 200_000, "image/png"), prompt="x")
    assert exc.value.status_code == 413
    with pytest.raises(openai.BadRequestError):
        client.images.edit(model="dall-e-2", image=("in.txt", b"text", "text/plain"), prompt="x")


def test_generations_wants_json(gateway: GatewayProcess) -> None:
    reply = httpx.post(
        f"{gateway.base_url}/images/generations", content=b"prompt=x", headers={"content-type": "text/plain"}
    )
    assert reply.status_code == 415


def test_edits_want_multipart(gateway: GatewayProcess) -> None:
    reply = httpx.post(f"{gateway.base_url}/images/edits", json={"model": "dall-e-2", "prompt": "x"})
    assert reply.status_code == 415 and reply.json()["error"]["type"] == "invalid_request_error"


def test_a_budgeted_key_reserves_and_pays_per_image(gateway: GatewayProcess) -> None:
    created = httpx.post(f"{gateway.url}/admin/keys", json={"name": "images", "credit": 0.1}).json()
    client = openai.OpenAI(base_url=gateway.base_url, api_key=created["key"], max_retries=0)
    with pytest.raises(openai.APIStatusError) as exc:  # two hd images may cost $0.16 > $0.10
        client.images.generate(model="dall-e-3", prompt="x", n=2, quality="hd", size="1024x1024")
    assert exc.value.status_code == 402
    raw = client.images.with_raw_response.generate(model="dall-e-3", prompt="x", quality="hd", size="1024x1024")
    assert float(raw.headers["x-unigate-cost"]) == pytest.approx(0.08)
    info = httpx.get(f"{gateway.url}/v1/key/info", headers={"authorization": f"Bearer {created['key']}"}).json()
    assert info["spent"] == pytest.approx(0.08), info
