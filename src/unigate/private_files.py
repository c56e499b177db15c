"""Files only the gateway's own user may read: the database, journals, recorded prompts.

They hold key hashes, spend, prompts and uploads. ``unigate serve`` sets the process umask to
``077`` so everything it creates is owner-only; these helpers make the same true when the
gateway is embedded in another program (whose umask is its own) and tighten files an older
version created with wider modes.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

DIRECTORY_MODE = 0o700
FILE_MODE = 0o600


def private_dir(path: str | Path) -> Path:
    """Create ``path`` (and parents) if needed; the directory itself ends up owner-only."""
    directory = Path(path)
    directory.mkdir(parents=True, exist_ok=True, mode=DIRECTORY_MODE)
    _tighten(directory, DIRECTORY_MODE)
    return directory


def private_file(path: str | Path) -> Path:
    """Create ``path`` empty if it does not exist (owner-only from its first instant), else
    tighten its mode; returns it."""
    file = Path(path)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(file, os.O_CREAT | os.O_EXCL | os.O_WRONLY, FILE_MODE))
    _tighten(file, FILE_MODE)
    return file


def _tighten(path: Path, mode: int) -> None:
    with contextlib.suppress(OSError):  # not ours (a shared mount): leave it as the owner set it
        if path.stat().st_uid == os.getuid() and path.stat().st_mode & 0o777 != mode:
            path.chmod(mode)
