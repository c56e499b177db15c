"""``unigate keys …`` talks to the database only: it runs with the serving config even when the
provider keys and the master key live in variables this shell does not have."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def unigate(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "unigate.cli", *args], capture_output=True, text=True, timeout=60, env=env
    )


def test_keys_create_needs_only_the_database_settings(tmp_path: Path):
    config = tmp_path / "gw.yaml"
    config.write_text(
        f"data_dir: {tmp_path / 'data'}\n"
        "server: {master_key: env:UNSET_MASTER_KEY_FOR_TEST}\n"
        "models:\n  - name: gpt\n    deployments:\n      - {provider: openai, model: gpt-4o, api_key: env:UNSET_OPENAI_FOR_TEST}\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("UNSET_")}
    created = unigate("keys", "create", "-c", str(config), "--name", "ci", env=env)
    assert created.returncode == 0, created.stderr
    listed = unigate("keys", "list", "-c", str(config), "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    assert [k["name"] for k in json.loads(listed.stdout)] == ["ci"]


def test_an_unset_database_variable_is_named(tmp_path: Path):
    config = tmp_path / "gw.yaml"
    config.write_text("database_url: env:UNSET_DATABASE_URL_FOR_TEST\n")
    result = unigate("keys", "list", "-c", str(config), env=dict(os.environ))
    assert result.returncode == 2
    assert "database_url: environment variable UNSET_DATABASE_URL_FOR_TEST is not set" in result.stderr


def test_db_quarantine_lists_refused_ledger_records_newest_first(tmp_path: Path):
    import asyncio

    from unigate.accounts.db import create_engine, upgrade
    from unigate.accounts.store import Store
    from unigate.config import validate

    config_file = tmp_path / "gw.yaml"
    config_file.write_text(f"data_dir: {tmp_path / 'data'}\n")
    config = validate({"data_dir": str(tmp_path / "data")}, require_env=False)

    async def seed() -> None:
        engine = create_engine(config)
        await upgrade(engine)
        store = Store(engine)
        await store.quarantine_usage('{"torn": ', "JSONDecodeError: torn record", None)
        row = {"request_id": "req_poison", "key_id": "key_1", "cost_nusd": 2_500_000_000}
        await store.quarantine_usage('{"request_id": "req_poison"}', "DataError: latency_ms", row)
        await store.aclose()

    asyncio.run(seed())
    env = dict(os.environ)
    listed = unigate("db", "quarantine", "-c", str(config_file), "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    assert [r["request_id"] for r in rows] == ["req_poison", None]
    assert rows[0]["cost"] == 2.5 and rows[0]["error"] == "DataError: latency_ms"
    table = unigate("db", "quarantine", "-c", str(config_file), "--limit", "1", env=env)
    assert table.returncode == 0, table.stderr
    assert "req_poison" in table.stdout and "torn record" not in table.stdout
    assert "1 quarantined ledger record(s) (newest first; --limit shows more)" in table.stdout
