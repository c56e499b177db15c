from __future__ import annotations

from pathlib import Path

import pytest

from unigate.router_training.data import find_default_data_dir


@pytest.fixture(scope="session")
def mmlu_dir() -> Path:
    d = find_default_data_dir(Path(__file__).resolve())
    if d is None:
        pytest.skip("MMLU routing data (datasets/routing-data) not present")
    return d
