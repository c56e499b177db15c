"""Who is calling: bearer token → Principal.

The default authenticator knows only the master key. The accounts package installs one that
also resolves virtual keys; both compare secrets in constant time.
"""

from __future__ import annotations

import hmac
from typing import Protocol

from unigate.errors import AuthError, PermissionDenied
from unigate.gateway import Principal
from unigate.server.http import Request

ANONYMOUS = Principal("anonymous")
MASTER = Principal("master", key_name="master")


def bearer_token(request: Request) -> str | None:
    raw = request.header(b"authorization")
    if raw is not None:
        scheme, _, token = raw.decode("latin-1").partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
        return None
    # Anthropic-style clients send x-api-key, Gemini's x-goog-api-key; accept both on every surface.
    api_key = request.header(b"x-api-key") or request.header(b"x-goog-api-key")
    return api_key.decode("latin-1").strip() if api_key else None


class Authenticator(Protocol):
    async def authenticate(self, request: Request) -> Principal: ...


class MasterKeyAuthenticator:
    """No master key configured: everyone is the (loopback-only) anonymous admin.
    Master key configured: the bearer token must equal it."""

    def __init__(self, master_key: str | None) -> None:
        self._master = master_key.encode() if master_key else None

    def is_master(self, token: str | None) -> bool:
        return self._master is not None and token is not None and hmac.compare_digest(token.encode(), self._master)

    async def authenticate(self, request: Request) -> Principal:
        if self._master is None:
            return ANONYMOUS
        token = bearer_token(request)
        if token is None:
            raise AuthError("Missing API key. Send it as 'Authorization: Bearer <key>'.", code="missing_api_key")
        if self.is_master(token):
            return MASTER
        raise AuthError("Incorrect API key provided.")


def require_admin(principal: Principal) -> None:
    if not principal.is_admin:
        raise PermissionDenied("This endpoint requires the master key.")
