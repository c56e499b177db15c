"""Sign-in sessions as a way of calling the gateway's management surfaces.

A bearer token (master key, virtual key) is handled by the authenticator this one wraps. Without
one, a session cookie is accepted — only on the portal, dashboard and admin paths, never on the
model APIs (a person calls models with a key, so every call is charged to one) — and every
unsafe method (POST, PUT, PATCH, DELETE) must carry the session's CSRF token in ``x-csrf-token``
and, when the browser sends one, an ``Origin`` of the gateway itself.
"""

from __future__ import annotations

import hmac
from typing import Any
from urllib.parse import urlsplit

from unigate.accounts.sessions import SESSION_COOKIE, Session, SessionStore, cookie_name, read_cookies
from unigate.context import Principal
from unigate.errors import AuthError, PermissionDenied
from unigate.server.auth import Authenticator, bearer_token
from unigate.server.http import Request

SESSION_PATHS = ("/portal/", "/ui/", "/admin/", "/auth/")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_HEADER = b"x-csrf-token"


class CsrfRejected(PermissionDenied):
    default_code = "csrf_failed"


def session_cookie(request: Request, secure: bool) -> str | None:
    cookies = read_cookies(request.header(b"cookie"))
    return cookies.get(cookie_name(SESSION_COOKIE, secure))


def check_origin(request: Request, public_url: str) -> None:
    """A browser's Origin (when sent) must be the gateway's own: its Host, or the public URL."""
    origin = request.header(b"origin")
    if origin is None:
        return
    origin_text = origin.decode("latin-1")
    parts = urlsplit(origin_text)
    host = (request.header(b"host") or b"").decode("latin-1")
    if parts.netloc and (parts.netloc == host or origin_text.rstrip("/") == public_url):
        return
    raise CsrfRejected("Cross-site request refused (Origin does not match this gateway).")


def check_csrf(request: Request, expected: str) -> None:
    sent = request.header(CSRF_HEADER)
    if sent is None or not hmac.compare_digest(sent, expected.encode()):
        raise CsrfRejected("Missing or wrong CSRF token (send the x-csrf-token header you got from /auth/session).")


def principal_for_session(session: Session) -> Principal:
    """An admin user acts as the master key does; anyone else is a ``user`` principal (no model
    access, no key of their own: the portal's checks decide what they may do)."""
    user = session.user
    metadata: dict[str, Any] = {"user": user, "session": session}
    if user.role == "admin":
        return Principal("master", key_name=f"user {user.email}", metadata=metadata)
    return Principal("user", key_name=user.email, team_id=user.team_id, metadata=metadata)


class SessionAuthenticator:
    def __init__(self, inner: Authenticator, sessions: SessionStore, *, secure: bool, public_url: str) -> None:
        self.inner = inner
        self.sessions = sessions
        self.secure = secure
        self.public_url = public_url

    async def session_of(self, request: Request) -> Session | None:
        raw = session_cookie(request, self.secure)
        return await self.sessions.lookup(raw) if raw else None

    async def authenticate(self, request: Request) -> Principal:
        if bearer_token(request) is None and request.path.startswith(SESSION_PATHS):
            session = await self.session_of(request)
            if session is not None:
                if request.method not in SAFE_METHODS:
                    check_origin(request, self.public_url)
                    check_csrf(request, session.csrf_token)
                return principal_for_session(session)
            if request.path.startswith("/portal/"):
                raise AuthError("Sign in first.", code="not_signed_in")
        return await self.inner.authenticate(request)
