"""What the integration tests share: services on the test's database."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from faxcast.clock import ManualClock
from faxcast.config import Settings
from faxcast.services.context import Services
from faxcast.store.blobs import DatabaseBlobStore, FileBlobStore
from faxcast.store.database import create_engine_for


@pytest.fixture
def svc(database_url: str, tmp_path: Path) -> Iterator[Services]:
    """Services on this test's database, SQLite and PostgreSQL, at a fixed moment in 2030
    (modules that need other settings or a clock they move define their own)."""
    engine = create_engine_for(database_url)
    postgresql = engine.dialect.name == "postgresql"
    yield Services(
        engine=engine,
        blobs=DatabaseBlobStore() if postgresql else FileBlobStore(tmp_path / "blobs"),
        clock=ManualClock(datetime(2030, 1, 15, 9, 0, tzinfo=UTC)),
        settings=Settings(data_dir=tmp_path, default_country="FR"),
    )
    engine.dispose()
