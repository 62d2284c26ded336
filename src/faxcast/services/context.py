"""What every use case needs: the database, the blob store, the clock, the settings, the metrics."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from sqlalchemy import Connection, Engine

from faxcast.clock import Clock
from faxcast.config import Settings
from faxcast.services.metrics import Metrics
from faxcast.store.blobs import BlobStore


@dataclass(frozen=True)
class Services:
    """The composition root's product, passed to every use case."""

    engine: Engine
    blobs: BlobStore
    clock: Clock
    settings: Settings
    metrics: Metrics = field(default_factory=Metrics)  # this process's, shared by app and worker

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """One transaction: committed when the block ends, rolled back if it raises."""
        with self.engine.begin() as conn:
            yield conn
