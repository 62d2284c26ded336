"""What every use case needs: the database, blobs, clock, settings, metrics, and who acts."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from functools import lru_cache

from sqlalchemy import Connection, Engine

from faxcast.clock import Clock
from faxcast.config import Settings, secret_key
from faxcast.domain.access import OPERATOR, Caller
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
    # Who the use cases act for: the API and the pages bind each request's user; the CLI, the
    # scheduler and the workers act as the operator.
    caller: Caller = OPERATOR

    def acting_for(self, caller: Caller) -> Services:
        """These services, acting for `caller`."""
        return replace(self, caller=caller)

    @property
    def sealer(self) -> Sealer:
        """Seals the secrets the store keeps (SIP passwords), with the server's secret key."""
        return _sealer(self.settings)

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """One transaction: committed when the block ends, rolled back if it raises; the store
        seals and opens secrets in it with `sealer`."""
        with self.engine.begin() as conn:
            yield with_sealer(conn, self.sealer)


@lru_cache(maxsize=16)
def _sealer(settings: Settings) -> Sealer:
    # One per settings, not per Services: each request's `acting_for` copy shares it.
    return Sealer(secret_key(settings))
