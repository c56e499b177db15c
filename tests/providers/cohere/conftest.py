"""Fixtures of the cohere provider tests (defined with their helpers in support.py)."""

from tests.providers.cohere.support import provider

__all__ = ["provider"]
