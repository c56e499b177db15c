"""How a Bedrock request is authorized: a Bedrock API key (bearer token) or AWS SigV4.

SigV4 credentials come from botocore's standard chain (env vars, shared profile, SSO, container
or instance metadata). Resolving them can do blocking I/O (files, HTTP to IMDS/STS), so it runs
in a worker thread, once per profile, and again only when botocore says refreshable credentials
are about to expire. Signing itself is pure CPU and runs inline.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials, ReadOnlyCredentials

from unigate.errors import AuthError
from unigate.types import Deployment

BEARER_ENV = "AWS_BEARER_TOKEN_BEDROCK"


def _resolve(profile: str | None) -> Any:
    # Imported here: building a botocore session loads its data files (blocking, off-loop).
    import botocore.session

    session = botocore.session.Session(profile=profile) if profile else botocore.session.get_session()
    return session.get_credentials()


class CredentialCache:
    """Lazily resolved, refreshed-on-expiry AWS credentials, one entry per profile."""

    def __init__(self) -> None:
        self._credentials: dict[str | None, Any] = {}
        self._lock = asyncio.Lock()

    async def frozen(self, deployment: Deployment) -> ReadOnlyCredentials:
        key_id = deployment.option("aws_access_key_id")
        secret = deployment.option("aws_secret_access_key")
        if key_id and secret:
            return Credentials(key_id, secret, deployment.option("aws_session_token")).get_frozen_credentials()
        profile = deployment.option("aws_profile")
        credentials = self._credentials.get(profile)
        if credentials is None:
            async with self._lock:
                credentials = self._credentials.get(profile)
                if credentials is None:
                    credentials = await asyncio.to_thread(_resolve, profile)
                    if credentials is None:
                        raise AuthError(
                            "bedrock: no AWS credentials found (env vars, profile, or instance role) "
                            f"and no {BEARER_ENV} / api_key",
                            provider="bedrock",
                        )
                    self._credentials[profile] = credentials
        refresh_needed = getattr(credentials, "refresh_needed", None)
        if callable(refresh_needed) and refresh_needed():
            # Refreshing talks to STS/IMDS/SSO: keep it off the event loop.
            frozen: ReadOnlyCredentials = await asyncio.to_thread(credentials.get_frozen_credentials)
            return frozen
        result: ReadOnlyCredentials = credentials.get_frozen_credentials()
        return result


def bearer_token(deployment: Deployment) -> str | None:
    """A Bedrock API key, if one is configured (it replaces SigV4 entirely)."""
    return deployment.api_key or os.environ.get(BEARER_ENV) or None


def sign(
    url: str, body: bytes, headers: dict[str, str], credentials: ReadOnlyCredentials, region: str, method: str = "POST"
) -> dict[str, str]:
    """Headers for ``method url`` with SigV4 (``authorization``, ``x-amz-date``, session token)."""
    request = AWSRequest(method=method, url=url, data=body, headers=dict(headers))
    SigV4Auth(credentials, "bedrock", region).add_auth(request)
    return {name.lower(): str(value) for name, value in request.headers.items()}
