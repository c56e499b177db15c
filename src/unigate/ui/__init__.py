"""Static assets of the web dashboard (served by :mod:`unigate.server.ui`)."""
