"""Connection limits uvicorn does not have: a deadline for request headers and a connection cap.

Measured on uvicorn 0.54 (httptools): ``timeout_keep_alive`` closes a connection only when it is
idle *after* a response. A socket that connects and sends nothing, or sends its headers a byte
at a time, is held for as long as the client likes, and nothing bounds how many such sockets
are open. ``server/protocol.py`` (uvicorn's own protocol plus a deadline) closes a connection
whose headers are not complete within ``server.header_timeout`` seconds of its connection or of
the first byte of its next request, and closes new connections beyond ``server.max_connections``
at once. The body has its own deadline in the app (``http.read_body``), which answers 408.

The limits reach the protocol through the ASGI lifespan state (``App`` puts them there on
start-up), so each worker process reads its own app's config.
"""

from __future__ import annotations

from dataclasses import dataclass

STATE_KEY = "unigate.connection_limits"


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    header_timeout: float
    max_connections: int
