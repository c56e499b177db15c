"""Single sign-on with any OpenID Connect provider: authorization code flow with PKCE (S256).

``authlib`` builds the authorization URL and exchanges the code (client_secret_basic, the PKCE
verifier); ``joserfc`` checks the ID token (signature against the provider's JWKS, issuer,
audience, expiry, nonce); the claims are the ID token's merged with the userinfo endpoint's.
The state, nonce and verifier live server-side under the state (a one-time token) and the state
is also bound to the browser that started the flow by a short-lived cookie.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Any

from unigate.config import OidcConfig
from unigate.errors import AuthError, GatewayError

DISCOVERY_TTL = 3600.0
ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA"]


class SingleSignOnFailed(AuthError):
    default_code = "sso_failed"


class SingleSignOnUnavailable(GatewayError):
    status = 502
    default_code = "sso_unavailable"


@dataclass(frozen=True, slots=True)
class Identity:
    subject: str  # "<issuer> <sub>": unique across providers
    email: str | None
    email_verified: bool
    name: str | None
    groups: tuple[str, ...]


class OidcClient:
    def __init__(self, config: OidcConfig, redirect_uri: str) -> None:
        self.config = config
        self.issuer = config.issuer.rstrip("/")
        self.redirect_uri = redirect_uri
        self._metadata: dict[str, Any] | None = None
        self._metadata_at = 0.0
        self._jwks: dict[str, Any] | None = None

    def _client(self) -> Any:
        from authlib.integrations.httpx_client import AsyncOAuth2Client

        return AsyncOAuth2Client(
            client_id=self.config.client_id,
            client_secret=self.config.client_secret,
            scope=" ".join(self.config.scopes),
            redirect_uri=self.redirect_uri,
            code_challenge_method="S256",
            token_endpoint_auth_method="client_secret_basic" if self.config.client_secret else "none",
            timeout=10.0,
        )

    async def metadata(self) -> dict[str, Any]:
        if self._metadata is None or time.monotonic() - self._metadata_at > DISCOVERY_TTL:
            try:
                import httpx

                async with httpx.AsyncClient(timeout=10.0) as client:
                    reply = await client.get(self.issuer + "/.well-known/openid-configuration")
                    reply.raise_for_status()
                    found = reply.json()
                    reply = await client.get(found["jwks_uri"])
                    reply.raise_for_status()
                    jwks = reply.json()
            except Exception as exc:  # unreachable, not JSON, no jwks_uri: the provider is not usable now
                raise SingleSignOnUnavailable(
                    f"The identity provider could not be reached or answered oddly ({type(exc).__name__})."
                ) from exc
            if str(found.get("issuer", "")).rstrip("/") != self.issuer:
                raise SingleSignOnUnavailable("The provider's discovery document names another issuer.")
            self._metadata, self._jwks, self._metadata_at = found, jwks, time.monotonic()
        return self._metadata

    async def authorization(self) -> tuple[str, dict[str, str]]:
        """(URL to send the browser to, the secrets to keep until the callback: verifier, nonce)."""
        metadata = await self.metadata()
        verifier = secrets.token_urlsafe(48)
        nonce = secrets.token_urlsafe(24)
        state = secrets.token_urlsafe(32)
        async with self._client() as client:
            url, _ = client.create_authorization_url(
                metadata["authorization_endpoint"], state=state, code_verifier=verifier, nonce=nonce
            )
        return url, {"state": state, "verifier": verifier, "nonce": nonce}

    async def identity(self, code: str, verifier: str, nonce: str) -> Identity:
        metadata = await self.metadata()
        async with self._client() as client:
            try:
                token = await client.fetch_token(
                    metadata["token_endpoint"], code=code, code_verifier=verifier, grant_type="authorization_code"
                )
            except Exception as exc:  # the provider refused the code (or could not be reached)
                raise SingleSignOnFailed(f"The identity provider did not accept the sign-in: {exc}") from exc
            claims = self._id_token_claims(str(token.get("id_token") or ""), nonce)
            userinfo_endpoint = metadata.get("userinfo_endpoint")
            if userinfo_endpoint:
                try:
                    reply = await client.get(userinfo_endpoint)
                    info = reply.json() if reply.status_code == 200 else {}
                except Exception:  # the ID token alone still identifies the person
                    info = {}
                if isinstance(info, dict) and info.get("sub") == claims["sub"]:  # the same person only
                    claims = {**info, **claims}
        groups = claims.get(self.config.groups_claim) or []
        if isinstance(groups, str):
            groups = [groups]
        email = claims.get("email")
        return Identity(
            subject=f"{self.issuer} {claims['sub']}",
            email=email.strip().lower() if isinstance(email, str) and email.strip() else None,
            email_verified=claims.get("email_verified") is True,
            name=claims.get("name") if isinstance(claims.get("name"), str) else None,
            groups=tuple(str(g) for g in groups if isinstance(g, str | int)),
        )

    def _id_token_claims(self, id_token: str, nonce: str) -> dict[str, Any]:
        from joserfc import jwt
        from joserfc.errors import JoseError
        from joserfc.jwk import KeySet

        if not id_token or self._jwks is None:
            raise SingleSignOnFailed("The identity provider returned no ID token.")
        try:
            keys = KeySet.import_key_set(self._jwks)  # type: ignore[arg-type]
            decoded = jwt.decode(id_token, keys, algorithms=ALGORITHMS)
            registry = jwt.JWTClaimsRegistry(
                iss={"essential": True, "value": self.issuer},
                aud={"essential": True, "value": self.config.client_id},
                sub={"essential": True},
                exp={"essential": True},
                nonce={"essential": True, "value": nonce},
            )
            registry.validate(decoded.claims)
        except (JoseError, ValueError) as exc:
            raise SingleSignOnFailed(f"The ID token is not valid: {exc}") from exc
        return dict(decoded.claims)

    def roles_for(self, groups: tuple[str, ...]) -> tuple[str | None, str | None, str]:
        """(team id, team role, role) the provider's groups map to (first mapped group wins)."""
        team = next((self.config.group_teams[g] for g in groups if g in self.config.group_teams), None)
        team_role = "admin" if any(g in self.config.team_admin_groups for g in groups) else "member"
        role = "admin" if any(g in self.config.admin_groups for g in groups) else "member"
        return team, team_role if team else None, role
