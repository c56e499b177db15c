"""Helpers for the self-service tests: a browser-like HTTP client (cookies + the CSRF header)
and a gateway config with the portal, a local SMTP server and a fake Stripe."""

from __future__ import annotations

from typing import Any

import httpx

from tests.support.fake_stripe import SECRET_KEY, WEBHOOK_SECRET

MASTER = "mk-portal-test"
PASSWORD = "correct horse battery"


def portal_config(upstream_url: str, *, smtp: dict[str, Any] | None, stripe_url: str | None, **portal: Any) -> dict:
    config: dict[str, Any] = {
        "server": {"master_key": MASTER},
        "models": [
            {
                "name": "cloud-mini",
                "deployments": [
                    {"provider": "openai", "model": "cloud-mini", "api_base": upstream_url, "api_key": "sk-up"}
                ],
                "pricing": {"input_per_mtok": 1.0, "output_per_mtok": 4.0},
            },
            {
                "name": "cloud-big",
                "deployments": [
                    {"provider": "openai", "model": "cloud-big", "api_base": upstream_url, "api_key": "sk-up"}
                ],
                "pricing": {"input_per_mtok": 10.0, "output_per_mtok": 40.0},
            },
        ],
        "portal": {"enabled": True, "registration": "open", **portal},
    }
    if smtp is not None:
        config["portal"]["smtp"] = smtp
    if stripe_url is not None:
        config["portal"]["payments"] = {
            "secret_key": SECRET_KEY,
            "webhook_secret": WEBHOOK_SECRET,
            "api_base": stripe_url,
            "min_amount": 1,
        }
    return config


class Browser:
    """What a browser does for the portal: keeps cookies, sends the CSRF token it was given."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.http = httpx.Client(base_url=url, timeout=20, follow_redirects=False)
        self.csrf: str | None = None
        self.last_login: httpx.Response | None = None

    def close(self) -> None:
        self.http.close()

    def session(self) -> dict[str, Any]:
        reply = self.http.get("/auth/session")
        reply.raise_for_status()
        data = reply.json()
        self.csrf = data["csrf_token"]
        return data

    def post(self, path: str, body: dict[str, Any] | None = None, **kwargs: Any) -> httpx.Response:
        return self.send("POST", path, body, **kwargs)

    def send(self, method: str, path: str, body: Any = None, *, csrf: bool = True, **kwargs: Any) -> httpx.Response:
        if csrf and self.csrf is None:
            self.session()
        headers = {"x-csrf-token": self.csrf} if csrf and self.csrf else {}
        headers |= kwargs.pop("headers", {})
        return self.http.request(method, path, json=body, headers=headers, **kwargs)

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.http.get(path, **kwargs)

    def login(self, email: str, password: str = PASSWORD) -> httpx.Response:
        self.session()
        reply = self.post("/auth/login", {"email": email, "password": password})
        self.last_login = reply
        if reply.status_code == 200:
            self.csrf = reply.json()["csrf_token"]
        return reply


def admin(url: str, method: str, path: str, body: Any = None) -> httpx.Response:
    return httpx.request(method, url + path, json=body, headers={"authorization": f"Bearer {MASTER}"}, timeout=20)
