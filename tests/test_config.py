"""Config loading: the documented example validates; mistakes are reported with path and line."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from unigate.config import ConfigError, check_bind_safety, load_config, validate
from unigate.gateway import Gateway

REPO = Path(__file__).resolve().parents[1]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "unigate.yaml"
    path.write_text(text)
    return path


def test_example_config_is_valid(monkeypatch):
    monkeypatch.setenv("UNIGATE_MASTER_KEY", "sk-m")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-o")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-a")
    monkeypatch.setenv("GROQ_API_KEY", "sk-g")
    config = load_config(REPO / "unigate.example.yaml")
    assert config.server.master_key == "sk-m"
    assert config.models[0].deployments[0].api_key == "sk-o"


def test_issue_shape_is_accepted(tmp_path, monkeypatch):
    monkeypatch.setenv("UNIGATE_MASTER_KEY", "m")
    monkeypatch.setenv("OPENAI_API_KEY", "k")
    path = write(
        tmp_path,
        """
server: {host: 127.0.0.1, port: 4000, master_key: env:UNIGATE_MASTER_KEY}
models:
  - name: gpt-4o-mini
    deployments:
      - provider: openai
        model: gpt-4o-mini
        api_base: https://api.openai.com/v1
        api_key: env:OPENAI_API_KEY
        weight: 1
""",
    )
    config = load_config(path)
    gateway = Gateway(config, environ={})
    deployment = gateway.groups["gpt-4o-mini"].deployments[0]
    assert (deployment.provider, deployment.model, deployment.api_key) == ("openai", "gpt-4o-mini", "k")


def test_errors_name_path_and_line(tmp_path):
    path = write(
        tmp_path,
        """models:
  - name: a
    deployments:
      - provider: openai
        model: x
  - name: b
    deployments:
      - provider: antrhopic
        model: claude
        wieght: 2
""",
    )
    with pytest.raises(ConfigError) as info:
        load_config(path)
    problems = info.value.problems
    assert any(
        "models[1].deployments[0].provider (line 8)" in p and "unknown provider 'antrhopic'" in p for p in problems
    )
    assert any("models[1].deployments[0].wieght (line 10)" in p and "unknown field" in p for p in problems)


def test_missing_env_variable_is_reported(tmp_path, monkeypatch):
    monkeypatch.delenv("NOPE_KEY", raising=False)
    path = write(
        tmp_path,
        "models:\n  - name: a\n    deployments:\n      - {provider: openai, model: x, api_key: env:NOPE_KEY}\n",
    )
    with pytest.raises(
        ConfigError, match=r"models\[0\].deployments\[0\].api_key \(line 4\): environment variable NOPE_KEY is not set"
    ):
        load_config(path)


def test_structure_only_check_keeps_unset_references(tmp_path, monkeypatch):
    monkeypatch.delenv("NOPE_KEY", raising=False)
    path = write(
        tmp_path,
        "models:\n  - name: a\n    deployments:\n      - {provider: openai, model: x, api_key: env:NOPE_KEY}\n",
    )
    config = load_config(path, require_env=False)
    assert config.models[0].deployments[0].api_key == "env:NOPE_KEY"


def test_shipped_example_passes_check_config_without_its_secrets(monkeypatch):
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "MASTER_KEY"))}
    strict = subprocess.run(
        [sys.executable, "-m", "unigate.cli", "check-config", str(REPO / "unigate.example.yaml")],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert strict.returncode == 2
    assert re.search(r"master_key \(line \d+\): environment variable UNIGATE_MASTER_KEY is not set", strict.stderr)
    structure = subprocess.run(
        [sys.executable, "-m", "unigate.cli", "check-config", "--no-env", str(REPO / "unigate.example.yaml")],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert structure.returncode == 0, structure.stderr
    assert "ok" in structure.stdout


def test_invalid_yaml_and_bad_values(tmp_path):
    with pytest.raises(ConfigError, match="invalid YAML"):
        load_config(write(tmp_path, "models: [\n"))
    with pytest.raises(ConfigError, match=r"server.port"):
        validate({"server": {"port": 99999}})
    with pytest.raises(ConfigError, match="defined twice"):
        validate({"models": [{"name": "a", "deployments": [{"provider": "openai", "model": "x"}]}] * 2})
    with pytest.raises(ConfigError, match="unknown model 'ghost'"):
        validate(
            {
                "models": [
                    {
                        "name": "a",
                        "deployments": [{"provider": "openai", "model": "x"}],
                        "routing": {"fallbacks": ["ghost"]},
                    }
                ]
            }
        )


def test_non_loopback_bind_requires_master_key():
    with pytest.raises(ConfigError, match=r"refusing to listen on 0\.0\.0\.0 without a master key"):
        check_bind_safety(validate({"server": {"host": "0.0.0.0"}}))
    check_bind_safety(validate({"server": {"host": "0.0.0.0", "master_key": "k"}}))
    check_bind_safety(validate({}))


def test_cli_exits_non_zero_with_the_problem(tmp_path):
    path = write(tmp_path, "models:\n  - name: a\n    deployments:\n      - {provider: nope, model: x}\n")
    result = subprocess.run(
        [sys.executable, "-m", "unigate.cli", "serve", "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "models[0].deployments[0].provider (line 4): unknown provider 'nope'" in result.stderr
    refused = subprocess.run(
        [sys.executable, "-m", "unigate.cli", "serve", "--host", "0.0.0.0", "--no-local"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode == 2 and "without a master key" in refused.stderr


def test_zero_config_discovers_providers_from_environment():
    gateway = Gateway(validate({}), environ={"GROQ_API_KEY": "g", "ANTHROPIC_API_KEY": "a"})
    names = set(gateway.groups)
    assert "local/smollm2-135m" in names
    assert "groq/llama-3.3-70b-versatile" in names and "llama-3.3-70b-versatile" in names
    assert any(n.startswith("anthropic/claude") for n in names)
    assert not any(n.startswith("openai/") for n in names)
    deployment = gateway.groups["groq/llama-3.1-8b-instant"].deployments[0]
    assert deployment.api_key == "g"
    assert Gateway(validate({"discover_providers": False}), environ={"GROQ_API_KEY": "g"}).groups.keys() == {
        "local/smollm2-135m"
    }
