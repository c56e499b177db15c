"""Fixtures of the anthropic provider tests (defined with their helpers in support.py)."""

from tests.providers.anthropic.support import provider

__all__ = ["provider"]
