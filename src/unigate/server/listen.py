"""Listening for ``unigate serve``: bind first, then say where the gateway serves.

The socket is bound (and listening) before uvicorn starts, so a taken port or an unknown host is a
clear error with a non-zero exit, and the "serving on" line is printed only once the server has
finished starting: it is never printed for a server that is not there.
"""

from __future__ import annotations

import errno
import socket
import sys
from typing import Any

import uvicorn


class AnnouncingServer(uvicorn.Server):
    """A uvicorn server that prints ``announce`` once it has started (and only if it did)."""

    def __init__(self, config: uvicorn.Config, *, announce: str) -> None:
        super().__init__(config)
        self.announce = announce

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started:
            print(self.announce, file=sys.stderr, flush=True)


def bind_listening_socket(host: str, port: int) -> socket.socket:
    """Bind and listen before anything says "serving": a taken port or a bad host is an error here."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise OSError(f"cannot listen on host {host!r}: {exc.strerror}") from exc
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise OSError(f"port {port} on {host} is already in use (is another gateway running?)") from exc
        raise OSError(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
    sock.listen(4096)
    sock.set_inheritable(True)
    return sock


def served_models(config: Any) -> list[str]:
    from unigate.gateway import Gateway

    return sorted(Gateway(config).groups)


def startup_line(config: Any, port: int, models: list[str]) -> str:
    """What the gateway serves, where, and who may call it: printed once it is listening."""
    host = config.server.host
    shown_host = f"[{host}]" if ":" in host else host
    base = f"http://{shown_host}:{port}"
    local = [m for m in models if m == config.local_model.name]
    others = len(models) - len(local)
    parts = [*local, f"{others} model{'s' if others != 1 else ''} of configured providers"] if others else local
    what = " and ".join(parts) if parts else "no models (configure some, or set a provider key)"
    auth = "master key required" if config.server.master_key else "no auth, loopback only"
    return f"unigate: serving {what} on {base}/v1 ({auth}); dashboard: {base}/ui"
