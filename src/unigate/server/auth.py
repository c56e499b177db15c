"""Who is calling: bearer token → Principal.

:class:`MasterKeyAuthenticator` knows only the master key; :class:`VirtualKeyAuthenticator` also
resolves the accounts package's virtual keys (the composition root picks one). Both compare
secrets in constant time.
"""

from __future__ import annotations

import hmac
from typing import Protocol

from unigate.context import Principal
from unigate.errors import AuthError, PermissionDenied
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


class KeyDirectory(Protocol):
    """Where virtual keys are looked up (the accounts service)."""

    async def principal_for(self, secret: str) -> Principal | None: ...

    async def has_keys(self) -> bool: ...


class VirtualKeyAuthenticator:
    """The master key and virtual keys.

    - master key configured: the master key, or a valid virtual key; anything else is 401.
    - no master key and no virtual key ever created: everyone is the anonymous (loopback-only)
      admin.
    - no master key and a virtual key was ever created (even if every key is revoked since): a
      valid virtual key is required; the anonymous admin never comes back for this database
      (manage keys with the ``unigate keys`` command, which talks to the database directly).
    """

    def __init__(self, master_key: str | None, keys: KeyDirectory) -> None:
        self._master = MasterKeyAuthenticator(master_key)
        self._has_master = bool(master_key)
        self.keys = keys

    async def authenticate(self, request: Request) -> Principal:
        token = bearer_token(request)
        if token is not None:
            if self._master.is_master(token):
                return MASTER
            principal = await self.keys.principal_for(token)
            if principal is not None:
                return principal
        if not self._has_master and not await self.keys.has_keys():
            return ANONYMOUS
        if token is None:
            raise AuthError("Missing API key. Send it as 'Authorization: Bearer <key>'.", code="missing_api_key")
        raise AuthError("Incorrect API key provided, or the key is revoked, disabled or expired.")
