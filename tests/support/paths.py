"""Where the shared fixtures live: ``../shared`` beside the repository (as on CI), or $UNIGATE_SHARED."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("UNIGATE_SHARED") or REPO.parent / "shared")
RECORDINGS = SHARED / "fixtures" / "provider-recordings"
ROUTING_DATA = SHARED / "routing-data"
BENCH = SHARED / "bench"
