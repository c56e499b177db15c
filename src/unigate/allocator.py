"""The C allocator's per-thread arenas, limited to two.

glibc gives a thread that allocates an arena of its own (up to eight per core), and memory freed
in one arena is not reused by threads of another. The gateway's helper threads (the database
driver's, the upstream client's, the request-log writer) each took one, and the free chunks
left in them were most of the ~45 MB an idle gateway grew by in its first ~50,000 requests of
mixed traffic; with two arenas that growth is ~14 MB smaller and requests/s are unchanged
(benchmarks/README.md, "Memory"). The Python work itself runs on one thread under the GIL, so
the helpers have little to contend for.

``MALLOC_ARENA_MAX`` in the environment is the operator's choice and is left alone, as is any C
library other than glibc.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os

ARENAS = 2
_M_ARENA_MAX = -8  # glibc's mallopt parameter


def limit_arenas(count: int = ARENAS) -> bool:
    """Allow at most ``count`` malloc arenas in this process from now on. True if set."""
    if os.environ.get("MALLOC_ARENA_MAX"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
        libc.gnu_get_libc_version  # noqa: B018 - only glibc has it, and only glibc's mallopt takes this
    except (OSError, AttributeError):
        return False
    return bool(mallopt(_M_ARENA_MAX, count))
