"""What every use case needs: the database, blobs, clock, settings, metrics, and who acts."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace

from sqlalchemy import Connection, Engine

from faxcast.clock import Clock
from faxcast.config import Settings
from faxcast.domain.access import OPERATOR, Caller
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
    # Who the use cases act for: the API and the pages bind each request's user; the CLI, the
    # scheduler and the workers act as the operator.
    caller: Caller = OPERATOR

    def acting_for(self, caller: Caller) -> Services:
        """These services, acting for `caller`."""
        return replace(self, caller=caller)

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """One transaction: committed when the block ends, rolled back if it raises."""
        with self.engine.begin() as conn:
            yield conn
