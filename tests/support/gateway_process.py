"""Run the gateway as a real subprocess (``python -m unigate.cli serve``) on a free port."""

from __future__ import annotations

import itertools
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

# the line `unigate serve` prints once it listens (server/listen.py startup_line)
_SERVING = re.compile(rb"unigate: serving .* on https?://\S+:(\d+)/v1 ")
_STARTS = itertools.count()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class GatewayProcess:
    config: dict[str, Any]
    workdir: Path
    env: dict[str, str] = field(default_factory=dict)
    args: list[str] = field(default_factory=list)
    port: int = 0  # 0: the gateway binds a free port itself (kept for a restart)
    proc: subprocess.Popen[bytes] | None = None
    name: str = ""  # this start's log and config file names

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return self.url + "/v1"

    @property
    def log_path(self) -> Path:
        return self.workdir / f"gateway-{self.name}.log"

    def start(self, timeout: float = 60.0) -> GatewayProcess:
        # Without a port of its own choosing, the gateway binds a free one itself and names it in
        # its start-up line. A port picked here and bound seconds later (Python starts slowly on a
        # loaded machine) can meanwhile be taken by another process, whose /health/live would then
        # answer for this gateway while every request of the test went to a stranger.
        self.name = f"{os.getpid()}-{next(_STARTS)}"
        config = dict(self.config)
        config.setdefault("data_dir", str(self.workdir / "data"))
        config_path = self.workdir / f"unigate-{self.name}.yaml"
        config_path.write_text(yaml.safe_dump(config))
        env = {**os.environ, **self.env}
        env.setdefault("UNIGATE_LOG_LEVEL", "WARNING")
        command = [sys.executable, "-m", "unigate.cli", "serve", "-c", str(config_path), "--port", str(self.port)]
        self.proc = subprocess.Popen(
            [*command, *self.args],
            stdout=self.log_path.open("wb"),
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gateway exited with {self.proc.returncode}:\n{self.log()}")
            if not self.port:
                self.port = self._announced_port()
                if not self.port:
                    time.sleep(0.05)
                    continue
            try:
                with urllib.request.urlopen(self.url + "/health/live", timeout=1) as reply:
                    if reply.status == 200:
                        return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"gateway did not become live within {timeout}s:\n{self.log()}")

    def _announced_port(self) -> int:
        """The port of the start-up line in the log, 0 while the gateway has not printed it."""
        try:
            found = _SERVING.search(self.log_path.read_bytes())
        except OSError:
            return 0
        return int(found.group(1)) if found else 0

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-5000:]
        except OSError:
            return ""

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode
