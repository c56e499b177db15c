"""Model names as a client meets them through the openai SDK: /v1/models lists the auto-routing
names next to the models, and a mistyped name gets a "did you mean" — only ever naming a model
the caller's key may use."""

from __future__ import annotations

import openai
import pytest

from tests.accounts.conftest import MASTER, Admin, module_gateway
from tests.conftest import openai_model
from tests.support.fake_upstream import FakeUpstream, ThreadedUpstream


@pytest.fixture(scope="module")
def gateway(tmp_path_factory):
    upstream = ThreadedUpstream(FakeUpstream())
    models = [
        openai_model("gpt-4o-mini", upstream.base_url),
        openai_model("claude-haiku", upstream.base_url),
        openai_model("team/secret-model", upstream.base_url),
    ]
    config = {
        "server": {"master_key": MASTER},
        "models": models,
        "auto": {"policies": [{"name": "cheap", "candidates": ["gpt-4o-mini", "claude-haiku"], "threshold": 0.9}]},
    }
    yield from module_gateway(tmp_path_factory, config)
    upstream.stop()


def client(gateway, key: str = MASTER) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.base_url, api_key=key, max_retries=0)


def test_models_list_names_auto_and_its_policies(gateway):
    ids = [m.id for m in client(gateway).models.list()]
    assert ids[:3] == ["gpt-4o-mini", "claude-haiku", "team/secret-model"]
    assert {"auto", "auto/cheap"} <= set(ids[3:])
    cheap = client(gateway).models.retrieve("auto/cheap")
    assert cheap.owned_by == "unigate"
    assert cheap.model_extra["auto_routing"]["policy"] == "auto/cheap"


def test_a_mistyped_model_gets_a_suggestion(gateway):
    with pytest.raises(openai.NotFoundError) as caught:
        client(gateway).chat.completions.create(model="gpt4o-mini", messages=[{"role": "user", "content": "hi"}])
    assert "Did you mean 'gpt-4o-mini'?" in caught.value.message
    with pytest.raises(openai.NotFoundError) as caught:
        client(gateway).chat.completions.create(model="secret-model", messages=[{"role": "user", "content": "hi"}])
    assert "Did you mean 'team/secret-model'?" in caught.value.message
    with pytest.raises(openai.NotFoundError) as caught:
        client(gateway).models.retrieve("auto/cheep")
    assert "Did you mean 'auto/cheap'?" in caught.value.message


def test_nothing_close_means_no_suggestion(gateway):
    with pytest.raises(openai.NotFoundError) as caught:
        client(gateway).chat.completions.create(model="zzz-unknown", messages=[{"role": "user", "content": "hi"}])
    assert "Did you mean" not in caught.value.message


def test_a_restricted_key_is_never_shown_other_names(gateway):
    key = Admin(gateway.url).create_key(name="narrow", models=["claude-haiku"])["key"]
    assert [m.id for m in client(gateway, key).models.list()] == ["claude-haiku"]
    with pytest.raises(openai.NotFoundError) as caught:
        client(gateway, key).chat.completions.create(
            model="team/secret-modl", messages=[{"role": "user", "content": "x"}]
        )
    assert "secret-model'" not in caught.value.message and "Did you mean" not in caught.value.message
    with pytest.raises(openai.NotFoundError) as caught:
        client(gateway, key).chat.completions.create(model="claude-haku", messages=[{"role": "user", "content": "x"}])
    assert "Did you mean 'claude-haiku'?" in caught.value.message
    with pytest.raises(openai.NotFoundError):
        client(gateway, key).models.retrieve("team/secret-model")
