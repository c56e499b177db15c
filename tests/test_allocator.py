"""The malloc arena limit, checked in a fresh interpreter: threads that allocate after
``limit_arenas`` share at most two arenas (glibc's ``malloc_info`` lists them), more without
it, and ``MALLOC_ARENA_MAX`` set by the operator is left alone."""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc", reason="glibc's allocator"
)

PROGRAM = """
import ctypes, sys, tempfile, threading
from unigate.allocator import limit_arenas
print(limit_arenas() if sys.argv[1] == "limit" else None)
def work(done):
    held = [bytearray(100_000) for _ in range(50)]  # through malloc, below its mmap threshold
    done.wait()
done = threading.Event()
threads = [threading.Thread(target=work, args=(done,)) for _ in range(6)]
for t in threads: t.start()
libc = ctypes.CDLL("libc.so.6")
libc.fopen.restype = ctypes.c_void_p
with tempfile.NamedTemporaryFile(suffix=".xml") as out:
    handle = libc.fopen(out.name.encode(), b"w")
    libc.malloc_info(0, ctypes.c_void_p(handle))
    libc.fclose(ctypes.c_void_p(handle))
    print(open(out.name).read().count("<heap nr="))
done.set()
for t in threads: t.join()
"""


def arenas(mode: str, **env: str) -> tuple[str, int]:
    environ = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"} | env
    result = subprocess.run(
        [sys.executable, "-c", PROGRAM, mode], capture_output=True, text=True, env=environ, timeout=60, check=True
    )
    answer, count = result.stdout.split()
    return answer, int(count)


def test_threads_share_at_most_two_arenas_once_limited():
    answer, count = arenas("limit")
    assert answer == "True"
    assert count <= 2


def test_without_the_limit_threads_take_arenas_of_their_own():
    assert arenas("none")[1] > 2


def test_an_operators_malloc_arena_max_is_left_alone():
    answer, count = arenas("limit", MALLOC_ARENA_MAX="4")
    assert answer == "False"
    assert count <= 4
