"""Bearer token → Principal for the master key and virtual keys (constant-time comparisons).

- master key configured: the master key, or a valid virtual key; anything else is 401.
- no master key and no virtual key ever created: everyone is the anonymous (loopback-only) admin.
- no master key and a virtual key was ever created (even if every key is revoked since): a valid
  virtual key is required; the anonymous admin never comes back for this database (manage keys
  with the ``unigate keys`` command, which talks to the database directly).
"""

from __future__ import annotations

from unigate.accounts.service import AccountsService
from unigate.errors import AuthError
from unigate.gateway import Principal
from unigate.server.auth import ANONYMOUS, MASTER, MasterKeyAuthenticator, bearer_token
from unigate.server.http import Request


class VirtualKeyAuthenticator:
    def __init__(self, master_key: str | None, service: AccountsService) -> None:
        self._master = MasterKeyAuthenticator(master_key)
        self._has_master = bool(master_key)
        self.service = service

    async def authenticate(self, request: Request) -> Principal:
        token = bearer_token(request)
        if token is not None:
            if self._master.is_master(token):
                return MASTER
            principal = await self.service.principal_for(token)
            if principal is not None:
                return principal
        if not self._has_master and not await self.service.has_keys():
            return ANONYMOUS
        if token is None:
            raise AuthError("Missing API key. Send it as 'Authorization: Bearer <key>'.", code="missing_api_key")
        raise AuthError("Incorrect API key provided, or the key is revoked, disabled or expired.")
