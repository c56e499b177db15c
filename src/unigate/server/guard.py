"""Who may reach the gateway from a browser: Host and Origin checks, before any route runs.

Without a master key the gateway listens on loopback only and trusts whoever can connect (the
anonymous admin, until keys exist). A web page the user visits can still reach it:

- **DNS rebinding**: ``evil.example`` resolves to 127.0.0.1 after the page loads; the page's
  requests then carry ``Host: evil.example``. In loopback mode only a loopback ``Host``
  (``localhost``, ``*.localhost``, ``127.x.x.x``, ``[::1]``) is served.
- **Cross-site requests**: a page can send ``POST`` requests to ``http://127.0.0.1:4000`` without
  asking first. A request carrying a foreign ``Origin`` (not the one the request is addressed
  to) is refused on the admin API always, and on every route in loopback mode. (Bodies other than
  ``application/json`` — what a page can send without a CORS preflight — are refused by the
  surfaces themselves.)

Clients that are not browsers send no ``Origin`` and are not affected.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from unigate.errors import PermissionDenied
from unigate.server.http import Request

ADMIN_PREFIX = "/admin/"


def is_loopback_host(host: str) -> bool:
    """Whether a ``Host`` header value (``name[:port]``, ``[v6]:port``) names this machine."""
    try:
        name = urlsplit("//" + host).hostname or ""
    except ValueError:  # a malformed port or bracket
        return False
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def check_request(request: Request, loopback_mode: bool, trusted_origins: frozenset[str] = frozenset()) -> None:
    """Raise PermissionDenied (403) for a request a browser was tricked into sending.
    ``trusted_origins`` (``server.cors_origins``) are web apps the operator allows besides the
    gateway's own origin."""
    raw_host = request.header(b"host")
    host = raw_host.decode("latin-1") if raw_host is not None else None
    if loopback_mode and host is not None and not is_loopback_host(host):
        raise PermissionDenied(
            f"Host '{host[:100]}' is not served: without a master key this gateway answers only requests "
            "addressed to a loopback name (localhost, 127.0.0.1, [::1]). Set server.master_key to serve others.",
            code="host_not_allowed",
        )
    origin = request.header(b"origin")
    if origin is None or not (loopback_mode or request.path.startswith(ADMIN_PREFIX)):
        return
    text = origin.decode("latin-1")
    if text.rstrip("/").lower() in trusted_origins:
        return
    try:
        parts = urlsplit(text)
        same = parts.scheme in ("http", "https") and host is not None and parts.netloc.lower() == host.lower()
    except ValueError:
        same = False
    if not same:
        raise PermissionDenied(
            f"Cross-origin request refused (Origin '{text[:100]}'): the admin API and a gateway without a "
            "master key answer only their own origin.",
            code="cross_origin_refused",
        )
