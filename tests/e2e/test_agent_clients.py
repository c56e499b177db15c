"""The real agent CLIs through a gateway process, set up exactly as docs/agents.md says: Claude
Code (``claude -p``) and Codex (``codex exec``) each complete a task that needs one tool call —
read a file and report what it says — against scripted fake upstreams on loopback (the model
asks for the tool; after the tool's result it answers with it, so the answer proves the tool ran).

Claude Code talks to the gateway's ``/v1/messages``; behind it an Anthropic upstream (native) and,
separately, an OpenAI-compatible chat upstream (translation). Codex talks to ``/v1/responses``;
behind it an OpenAI upstream with the Responses API (native pass-through) and an Anthropic
upstream (translation). The CLIs are installed by ``make test`` into ``.venv/node``; without npm
these tests are skipped with the reason.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.agent_upstream import AgentUpstream
from tests.support.fake_upstream import ThreadedUpstream
from tests.support.gateway_process import GatewayProcess

MASTER = "sk-agent-clients-master"
SECRET = "PURPLE-ELEPHANT-42"
NODE_BIN = Path(os.environ.get("UNIGATE_NODE_PREFIX") or Path(sys.prefix) / "node") / "node_modules" / ".bin"


def cli(name: str) -> str:
    if shutil.which("npm") is None:
        pytest.skip(f"npm is not installed: the {name} acceptance test needs it (make test installs the CLIs)")
    path = NODE_BIN / name
    if not path.exists():
        pytest.fail(f"{path} is missing: run `make test` (it installs the agent CLIs with npm into .venv/node)")
    return str(path)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("agent-clients")
    (path / "project").mkdir()
    (path / "project" / "secret.txt").write_text(SECRET + "\n")
    return path


@pytest.fixture(scope="module")
def upstream(workdir: Path) -> Iterator[ThreadedUpstream]:
    calls = {
        "Read": {"file_path": str(workdir / "project" / "secret.txt")},  # Claude Code's file tool
        "exec_command": {"cmd": "cat secret.txt"},  # Codex's shell tool
    }
    server = ThreadedUpstream(AgentUpstream(calls=calls))  # type: ignore[arg-type]
    yield server
    server.stop()


@pytest.fixture(scope="module")
def gateway(upstream: Any, workdir: Path) -> Iterator[GatewayProcess]:
    def model(name: str, provider: str, upstream_model: str, api_base: str, **options: Any) -> dict[str, Any]:
        deployment = {"provider": provider, "model": upstream_model, "api_base": api_base, "api_key": "sk-up"}
        if options:
            deployment["options"] = options
        return {"name": name, "deployments": [deployment]}

    config = {
        "local_model": {"enabled": False},
        "discover_providers": False,
        "server": {"master_key": MASTER},
        "models": [
            model("claude-native", "anthropic", "claude-sonnet-4-5", upstream.url),
            model("claude-via-chat", "openai", "chat-up", upstream.base_url, responses_api=False),
            model("codex-native", "openai", "gpt-up", upstream.base_url),
            model("codex-via-anthropic", "anthropic", "claude-sonnet-4-5", upstream.url),
            model("codex-via-chat", "openai", "chat-up", upstream.base_url, responses_api=False),
        ],
    }
    process = GatewayProcess(config=config, workdir=workdir).start()
    yield process
    process.stop()


def run(command: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=240, stdin=subprocess.DEVNULL
    )
    assert result.returncode == 0, f"exit {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    return result


# ---------------------------------------------------------------------------------------------
# Claude Code


def claude_env(gateway: GatewayProcess, home: Path, model: str) -> dict[str, str]:
    """docs/agents.md, "Claude Code"."""
    home.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "CLAUDE_"))}
    env.update(
        HOME=str(home),
        ANTHROPIC_BASE_URL=gateway.url,
        ANTHROPIC_AUTH_TOKEN=MASTER,
        ANTHROPIC_MODEL=model,
        ANTHROPIC_DEFAULT_HAIKU_MODEL=model,
        CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC="1",
        DISABLE_AUTOUPDATER="1",
    )
    return env


@pytest.mark.parametrize(
    ("model", "path"), [("claude-native", "/v1/messages"), ("claude-via-chat", "/v1/chat/completions")]
)
def test_claude_code_reads_a_file_through_the_gateway(
    gateway: GatewayProcess, upstream: Any, workdir: Path, model: str, path: str
) -> None:
    before = len(upstream.bodies(path))
    env = claude_env(gateway, workdir / f"home-{model}", model)
    result = run([cli("claude"), "-p", "What does secret.txt say?", "--allowedTools", "Read"], env, workdir / "project")
    assert SECRET in result.stdout
    bodies = upstream.bodies(path)[before:]
    assert len(bodies) >= 2  # the tool call, then the answer after the tool's result
    if path == "/v1/messages":
        last = bodies[-1]
        results = [b for b in last["messages"][-1]["content"] if b.get("type") == "tool_result"]
        assert results and SECRET in str(results[0]["content"])
        # Claude Code's prompt-cache marks and beta features reach Anthropic intact
        assert any(isinstance(b, dict) and b.get("cache_control") for b in last["system"])
        headers = [h for p, h, _ in upstream.received if p == path][-1]
        assert "claude-code-20250219" in headers["anthropic-beta"]
    else:
        assert bodies[-1]["messages"][-1]["role"] == "tool"
        assert SECRET in str(bodies[-1]["messages"][-1]["content"])


# ---------------------------------------------------------------------------------------------
# Codex


def codex_env(gateway: GatewayProcess, home: Path, model: str) -> dict[str, str]:
    """docs/agents.md, "Codex": a config.toml naming unigate as the model provider."""
    home.mkdir(exist_ok=True)
    (home / "config.toml").write_text(
        f'model = "{model}"\n'
        'model_provider = "unigate"\n'
        "check_for_update_on_startup = false\n"
        'web_search = "disabled"\n'
        "\n"
        "[analytics]\n"
        "enabled = false\n"
        "\n"
        "[model_providers.unigate]\n"
        'name = "unigate"\n'
        f'base_url = "{gateway.base_url}"\n'
        'env_key = "UNIGATE_API_KEY"\n'
        'wire_api = "responses"\n'
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "CODEX_"))}
    env.update(CODEX_HOME=str(home), UNIGATE_API_KEY=MASTER)
    return env


@pytest.mark.parametrize(
    ("model", "path"),
    [
        ("codex-native", "/v1/responses"),
        ("codex-via-anthropic", "/v1/messages"),
        ("codex-via-chat", "/v1/chat/completions"),
    ],
)
def test_codex_exec_runs_a_command_through_the_gateway(
    gateway: GatewayProcess, upstream: Any, workdir: Path, model: str, path: str
) -> None:
    before = len(upstream.bodies(path))
    env = codex_env(gateway, workdir / f"codex-{model}", model)
    command = [
        cli("codex"),
        "exec",
        "--skip-git-repo-check",
        "--dangerously-bypass-approvals-and-sandbox",
        "What does secret.txt say?",
    ]
    result = run(command, env, workdir / "project")
    assert SECRET in result.stdout
    bodies = upstream.bodies(path)[before:]
    assert len(bodies) >= 2
    if path == "/v1/responses":  # native: Codex's own request, the tool's output in its input
        last = bodies[-1]
        outputs = [i for i in last["input"] if i.get("type") == "function_call_output"]
        assert outputs and SECRET in str(outputs[-1]["output"])
        assert last["prompt_cache_key"]  # passes through to OpenAI
    elif path == "/v1/messages":
        results = [b for b in bodies[-1]["messages"][-1]["content"] if b.get("type") == "tool_result"]
        assert results and SECRET in str(results[0]["content"])
    else:
        assert bodies[-1]["messages"][-1]["role"] == "tool"
        assert SECRET in str(bodies[-1]["messages"][-1]["content"])
    # Codex's namespaced tools reach a translated upstream as plain functions
    if path != "/v1/responses":
        names = [t.get("name") or (t.get("function") or {}).get("name") for t in bodies[0]["tools"]]
        assert "exec_command" in names and any("__" in str(n) for n in names)
