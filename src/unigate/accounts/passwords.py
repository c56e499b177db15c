"""Password hashing with argon2id (``argon2-cffi``), off the event loop.

Hashing costs tens of milliseconds of CPU by design, so it runs in a worker thread. An unknown
account is checked against a dummy hash, so a sign-in takes as long whether the email exists or not.
"""

from __future__ import annotations

import asyncio
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters
MAX_PASSWORD_BYTES = 1024  # longer inputs are refused before hashing (no CPU amplification)


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return _hasher.hash("unigate-dummy-password")


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_hasher.hash, password)


async def verify_password(password_hash: str | None, password: str) -> bool:
    """True when ``password`` matches; False for a wrong password, a bad hash or no hash at all."""
    target = password_hash or _dummy_hash()

    def check() -> bool:
        try:
            return _hasher.verify(target, password)
        except (VerificationError, InvalidHashError):
            return False

    return await asyncio.to_thread(check) and password_hash is not None


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)
