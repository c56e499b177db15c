"""Helpers for benchmarks that run ``unigate serve`` (with its workers) as a subprocess."""

from __future__ import annotations

import os
import subprocess
import time
import urllib.request
from pathlib import Path


def wait_ready(url: str, seconds: float = 30.0) -> None:
    """Until ``/health/ready`` answers (or ``seconds`` pass)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url + "/health/ready", timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)


def process_tree(root: int) -> list[int]:
    """``root`` and its children (the workers of ``unigate serve --workers N``), from /proc."""
    pids = [root]
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1]) == root:
                    pids.append(int(entry))
            except OSError:
                continue
    return pids


def stop(proc: subprocess.Popen[bytes], seconds: float = 120.0) -> None:
    """SIGTERM, then wait: the gateway writes the ledger rows still queued before it exits."""
    proc.terminate()
    try:
        proc.wait(seconds)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
