"""A local OpenID Connect provider for the single sign-on tests: panva's ``oidc-provider`` (npm),
OpenID Certified and maintained, started with Node from ``tests/support/oidc_provider``
(``npm ci`` there installs it; ``make install-test`` does). It requires PKCE of every client."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

from tests.support.gateway_process import free_port

HERE = Path(__file__).resolve().parent / "oidc_provider"
CLIENT_ID = "unigate-test"
CLIENT_SECRET = "unigate-test-client-secret"


class OidcProvider:
    def __init__(self, redirect_uri: str, users: dict[str, dict[str, Any]], log: Path) -> None:
        node = shutil.which("node")
        if node is None:
            raise RuntimeError("the single sign-on tests need Node.js (apt-get install nodejs)")
        if not (HERE / "node_modules" / "oidc-provider").exists():
            raise RuntimeError(f"oidc-provider is not installed: run `npm ci` in {HERE} (make install-test does)")
        self.port = free_port()
        self.issuer = f"http://127.0.0.1:{self.port}"
        env = {
            **os.environ,
            "OIDC_PORT": str(self.port),
            "OIDC_CLIENT_ID": CLIENT_ID,
            "OIDC_CLIENT_SECRET": CLIENT_SECRET,
            "OIDC_REDIRECT_URI": redirect_uri,
            "OIDC_USERS": json.dumps(users),
            "NODE_ENV": "test",
        }
        self.log = log
        self.proc = subprocess.Popen(
            [node, str(HERE / "provider.mjs")], cwd=HERE, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT
        )

    def wait(self, timeout: float = 30.0) -> OidcProvider:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"oidc-provider exited: {self.log.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(self.issuer + "/.well-known/openid-configuration", timeout=1) as reply:
                    if reply.status == 200:
                        return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"oidc-provider did not start: {self.log.read_text()[-2000:]}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def config(self, **mapping: Any) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "scopes": ["openid", "email", "profile", "groups"],
            **mapping,
        }
