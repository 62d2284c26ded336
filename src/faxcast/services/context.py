"""What every use case needs: the database, the blob store, the clock, the settings, the metrics."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property

from sqlalchemy import Connection, Engine

from faxcast.clock import Clock
from faxcast.config import Settings, secret_key
from faxcast.services.metrics import Metrics
from faxcast.store.blobs import BlobStore
from faxcast.store.sealing import Sealer, with_sealer


@dataclass(frozen=True)
class Services:
    """The composition root's product, passed to every use case."""

    engine: Engine
    blobs: BlobStore
    clock: Clock
    settings: Settings
    metrics: Metrics = field(default_factory=Metrics)  # this process's, shared by app and worker

    @cached_property
    def sealer(self) -> Sealer:
        """Seals the secrets the store keeps (SIP passwords), with the server's secret key."""
        return Sealer(secret_key(self.settings))

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """One transaction: committed when the block ends, rolled back if it raises; the store
        seals and opens secrets in it with `sealer`."""
        with self.engine.begin() as conn:
            yield with_sealer(conn, self.sealer)
