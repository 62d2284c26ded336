"""Which ids can name a row at all."""

from __future__ import annotations

from typing import Final

# Ids are 32-bit INTEGER columns on both databases: a larger (or negative) id names no row, and
# binding it would fail on PostgreSQL (and past 2^63 on SQLite) instead of finding nothing.
MAX_ID: Final = 2**31 - 1


def storable(*ids: int) -> bool:
    """Whether every id fits the id columns, so that looking it up can find a row."""
    return all(0 < i <= MAX_ID for i in ids)
