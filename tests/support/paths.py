"""Where the vendored test data lives: inside the repository, so a clone tests itself."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
RECORDINGS = REPO / "tests" / "fixtures" / "provider-recordings"
ROUTING_DATA = REPO / "datasets" / "routing-data"
