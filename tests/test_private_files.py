"""Files the gateway writes are owner-only: the database (and its WAL files), the data
directory, journals and feedback; embedded use (any umask) as well as ``unigate serve``."""

from __future__ import annotations

import os
import stat

import httpx

from tests.accounts.conftest import priced_model
from unigate.private_files import private_dir, private_file


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_helpers_create_owner_only_and_tighten_wider_modes(tmp_path):
    old = os.umask(0o022)
    try:
        directory = private_dir(tmp_path / "a" / "data")
        created = private_file(directory / "new.db")
        wide = directory / "old.db"
        wide.write_text("x")
        wide.chmod(0o644)
        private_file(wide)
    finally:
        os.umask(old)
    assert mode(directory) == 0o700
    assert mode(created) == 0o600 and created.read_text() == ""
    assert mode(wide) == 0o600 and wide.read_text() == "x"  # tightened, never truncated


def test_the_served_gateway_keeps_its_files_to_its_owner(start_gateway, upstream):
    gateway = start_gateway({"server": {"master_key": "mk"}, "models": [priced_model("priced", upstream.base_url)]})
    auth = {"authorization": "Bearer mk"}
    created = httpx.post(gateway.url + "/admin/keys", json={"name": "k"}, headers=auth, timeout=30)
    assert created.status_code == 201
    body = {"model": "priced", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5}
    answer = httpx.post(gateway.url + "/v1/chat/completions", json=body, headers=auth, timeout=30)
    feedback = {"request_id": answer.headers["x-request-id"], "score": 1}
    assert httpx.post(gateway.url + "/v1/feedback", json=feedback, headers=auth, timeout=30).status_code == 200
    assert httpx.post(gateway.url + "/admin/usage/flush", headers=auth, timeout=30).status_code == 200
    data = gateway.workdir / "data"
    assert mode(data) == 0o700
    files = [p for p in data.rglob("*") if p.is_file()]
    assert {p.name for p in files} >= {"unigate.db", "feedback.jsonl"}
    for path in files:
        assert mode(path) & 0o077 == 0, (path, oct(mode(path)))
