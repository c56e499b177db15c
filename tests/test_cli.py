"""``unigate serve`` flags and start-up: flags are validated like the config file, and the
"serving on" line is printed only once the socket is bound and the server has started."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.gateway_process import free_port

SERVE = [sys.executable, "-m", "unigate.cli", "serve", "--no-local"]


def run(args: list[str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*SERVE, *args], capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize(
    ("flag", "value"), [("--port", "99999"), ("--port", "-5"), ("--port", "http"), ("--workers", "0")]
)
def test_bad_flags_are_refused_before_anything_starts(flag, value):
    result = run([flag, value])
    assert result.returncode == 2
    assert f"argument {flag}" in result.stderr
    assert "serving" not in result.stderr


def test_a_taken_port_is_an_error_and_nothing_claims_to_serve():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run(["--port", str(port)])
    assert result.returncode == 1
    assert f"port {port} on 127.0.0.1 is already in use" in result.stderr
    assert "serving" not in result.stderr


def test_unknown_host_with_master_key_cannot_be_resolved(tmp_path: Path):
    config = tmp_path / "gw.yaml"
    config.write_text("server: {host: no-such-host.invalid, master_key: sk-m}\nlocal_model: {enabled: false}\n")
    result = run(["--config", str(config)])
    assert result.returncode == 1
    assert "cannot listen on host 'no-such-host.invalid'" in result.stderr


def test_serving_line_comes_once_listening_and_names_what_is_served(tmp_path: Path):
    port = free_port()
    env = {**os.environ, "OPENAI_API_KEY": "sk-test", "UNIGATE_LOG_LEVEL": "WARNING"}
    proc = subprocess.Popen(
        [*SERVE, "--port", str(port)], stderr=subprocess.PIPE, text=True, env=env, start_new_session=True
    )
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        # the line is printed only when the port already accepts connections
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass
        assert line.startswith("unigate: serving ")
        assert f"on http://127.0.0.1:{port}/v1" in line
        assert f"dashboard: http://127.0.0.1:{port}/ui" in line
        assert "models of configured providers" in line and "local model" not in line
        assert "no auth, loopback only" in line
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def test_port_zero_serves_on_a_free_port_and_says_which():
    proc = subprocess.Popen([*SERVE, "--port", "0"], stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        assert proc.stderr is not None
        deadline = time.monotonic() + 60
        line = ""
        while time.monotonic() < deadline and "serving" not in line:
            line = proc.stderr.readline()
        port = int(line.split("http://127.0.0.1:")[1].split("/")[0])
        assert port > 0
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass
    finally:
        proc.terminate()
        proc.wait(timeout=15)
