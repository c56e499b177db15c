"""Which key made each recent request, so feedback is taken only from the request's own key.

Kept for every request, so it is laid out to cost nothing as traffic goes on: a fixed ring of
``limit`` slots allocated once, each a 16-byte digest of the request id in one ``bytearray``
and a reference to the (shared) key id string. An ``OrderedDict`` of id strings cost ~180 bytes
a request (~9 MB at 50,000); this is ~24 bytes a slot. Looking an id up scans the digests
(``bytearray.find``, well under a millisecond for 50,000): feedback is rare, requests are not.
"""

from __future__ import annotations

from hashlib import blake2b

_WIDTH = 16  # bytes of digest per request id: a false match needs a 128-bit collision


def _digest(request_id: str) -> bytes:
    return blake2b(request_id.encode(), digest_size=_WIDTH).digest()


class RecentOwners:
    """The key id (``None``: master / anonymous) of each of the last ``limit`` requests."""

    __slots__ = ("_digests", "_keys", "_next", "limit")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._digests = bytearray(limit * _WIDTH)
        self._keys: list[str | None] = [None] * limit
        self._next = 0  # requests remembered so far; the slot written next is this modulo limit

    def add(self, request_id: str, key_id: str | None) -> None:
        slot = self._next % self.limit
        self._digests[slot * _WIDTH : (slot + 1) * _WIDTH] = _digest(request_id)
        self._keys[slot] = key_id
        self._next += 1

    def find(self, request_id: str) -> tuple[bool, str | None]:
        """``(True, key id)`` for a remembered request, ``(False, None)`` otherwise."""
        needle, used = _digest(request_id), min(self._next, self.limit) * _WIDTH
        at = self._digests.find(needle, 0, used)
        while at != -1:
            if at % _WIDTH == 0:  # a match straddling two slots is not an id
                return True, self._keys[at // _WIDTH]
            at = self._digests.find(needle, at + 1, used)
        return False, None

    def __len__(self) -> int:
        return min(self._next, self.limit)
