"""What every use case needs: the database, the blob store, the clock and the settings."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import Connection, Engine

from faxcast.clock import Clock
from faxcast.config import Settings
from faxcast.store.blobs import BlobStore


@dataclass(frozen=True)
class Services:
    """The composition root's product, passed to every use case."""

    engine: Engine
    blobs: BlobStore
    clock: Clock
    settings: Settings

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """One transaction: committed when the block ends, rolled back if it raises."""
        with self.engine.begin() as conn:
            yield conn
