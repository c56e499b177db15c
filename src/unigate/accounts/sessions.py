"""Browser sessions: a random cookie value whose SHA-256 is the row key, with its CSRF token.

A sign-in always creates a new session (the id a browser held before is deleted, never promoted:
no session fixation); signing out, a password reset and disabling a user end sessions.
Cookies are HttpOnly, SameSite=Lax, and Secure (with the ``__Host-`` prefix) under TLS.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from http.cookies import CookieError, SimpleCookie
from typing import Any

from sqlalchemy import Row, delete, select
from sqlalchemy.ext.asyncio import AsyncEngine

from unigate.accounts.user_schema import sessions, tokens, users

SESSION_COOKIE = "unigate_session"
PRE_SESSION_COOKIE = "unigate_csrf"  # binds the sign-in / sign-up forms' CSRF token before a session exists
OIDC_COOKIE = "unigate_oidc"  # binds a single sign-on round trip to the browser that started it


def _digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Session:
    raw: str
    csrf_token: str
    user: Row[Any]
    expires_at: float


class SessionStore:
    def __init__(self, engine: AsyncEngine, ttl: float) -> None:
        self.engine = engine
        self.ttl = ttl

    async def create(self, user_id: str, replaces: str | None = None) -> tuple[str, str]:
        """A fresh session (value, CSRF token); the session ``replaces`` (if any) is deleted."""
        raw = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(32)
        now = time.time()
        async with self.engine.begin() as conn:
            if replaces:
                await conn.execute(delete(sessions).where(sessions.c.id_hash == _digest(replaces)))
            await conn.execute(
                sessions.insert().values(
                    id_hash=_digest(raw), user_id=user_id, csrf_token=csrf, created_at=now, expires_at=now + self.ttl
                )
            )
        return raw, csrf

    async def lookup(self, raw: str) -> Session | None:
        """The live session and its (enabled) user, or None."""
        now = time.time()
        query = (
            select(sessions.c.csrf_token, sessions.c.expires_at, users)
            .join(users, users.c.id == sessions.c.user_id)
            .where(sessions.c.id_hash == _digest(raw))
        )
        async with self.engine.connect() as conn:
            row = (await conn.execute(query)).first()
        if row is None or row.expires_at <= now or row.disabled:
            return None
        return Session(raw, row.csrf_token, row, row.expires_at)

    async def delete(self, raw: str) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(delete(sessions).where(sessions.c.id_hash == _digest(raw)))

    async def delete_for_user(self, user_id: str) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(delete(sessions).where(sessions.c.user_id == user_id))

    async def purge_expired(self) -> None:
        """Drop expired sessions and one-time tokens (they would refuse to work anyway)."""
        now = time.time()
        async with self.engine.begin() as conn:
            await conn.execute(delete(sessions).where(sessions.c.expires_at <= now))
            await conn.execute(delete(tokens).where(tokens.c.expires_at <= now - 86400))


def read_cookies(header: bytes | None) -> dict[str, str]:
    if not header:
        return {}
    jar = SimpleCookie()
    try:
        jar.load(header.decode("latin-1"))
    except CookieError:
        return {}
    return {name: morsel.value for name, morsel in jar.items()}


def cookie_name(name: str, secure: bool) -> str:
    """``__Host-`` cookies are Secure, host-only and path=/ by the browser's own rule."""
    return f"__Host-{name}" if secure else name


def set_cookie(name: str, value: str, *, secure: bool, max_age: float | None, same_site: str = "Lax") -> bytes:
    parts = [f"{cookie_name(name, secure)}={value}", "Path=/", "HttpOnly", f"SameSite={same_site}"]
    if secure:
        parts.append("Secure")
    if max_age is not None:
        parts.append(f"Max-Age={int(max_age)}")
    return "; ".join(parts).encode()


def clear_cookie(name: str, *, secure: bool) -> bytes:
    return set_cookie(name, "", secure=secure, max_age=0)
