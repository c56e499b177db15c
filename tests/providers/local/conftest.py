"""Fixtures of the local provider tests (defined with their helpers in support.py)."""

from tests.providers.local.support import provider, reference

__all__ = ["provider", "reference"]
