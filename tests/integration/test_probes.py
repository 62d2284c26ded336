"""/healthz and /readyz: open to all, outside OpenAPI; ready only on a reachable, current schema."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from faxcast.clock import ManualClock
from faxcast.config import Settings
from faxcast.services.context import Services
from faxcast.store import migrate, revisions
from faxcast.store.blobs import DatabaseBlobStore
from faxcast.store.database import create_engine_for
from tests.asgi import api_client

START = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


@pytest.fixture
def svc(database_url: str, tmp_path: Path) -> Iterator[Services]:
    engine = create_engine_for(database_url)
    settings = Settings(data_dir=tmp_path, database_url=database_url)
    yield Services(engine, DatabaseBlobStore(), ManualClock(START), settings)
    engine.dispose()


@pytest.fixture
def http(svc: Services) -> Iterator[httpx.Client]:
    with api_client(svc, signed_in=False) as client:
        yield client


def test_healthz_and_readyz_answer(svc: Services, http: httpx.Client) -> None:
    health = http.get("/healthz")
    ready = http.get("/readyz")

    assert (health.status_code, health.text) == (200, "ok\n")
    assert (ready.status_code, ready.text) == (200, "ready\n")
    paths = http.get("/openapi.json").json()["paths"]
    assert not {"/healthz", "/readyz", "/metrics"} & set(paths)


def test_readyz_is_a_503_problem_while_the_schema_is_behind(
    svc: Services, http: httpx.Client
) -> None:
    migrate.downgrade(svc.engine, "0001")

    english = http.get("/readyz")
    french = http.get("/readyz", headers={"Accept-Language": "fr"})

    assert english.status_code == french.status_code == 503
    assert english.headers["content-type"] == "application/problem+json"
    problem = english.json()
    assert (problem["type"], problem["title"], problem["instance"]) == (
        "/problems/not-ready",
        "Service Unavailable",
        "/readyz",
    )
    assert "revision 0001" in problem["detail"]
    assert revisions.head_revision() in problem["detail"]
    assert french.json()["title"] == "Service indisponible"
    assert http.get("/healthz").status_code == 200  # the process itself is alive

    migrate.upgrade(svc.engine)
    assert http.get("/readyz").status_code == 200


@pytest.mark.parametrize(
    "url",
    [
        "sqlite:////nonexistent-faxcast-directory/faxcast.db",
        "postgresql+psycopg://postgres@127.0.0.1:1/faxcast",  # nothing listens on port 1
    ],
    ids=["sqlite", "postgresql"],
)
def test_readyz_is_a_503_problem_when_the_database_is_gone(url: str, tmp_path: Path) -> None:
    engine = create_engine_for(url)
    svc = Services(engine, DatabaseBlobStore(), ManualClock(START), Settings(data_dir=tmp_path))
    with api_client(svc, signed_in=False) as http:
        ready = http.get("/readyz")
        health = http.get("/healthz")
    engine.dispose()

    assert ready.status_code == 503
    assert ready.headers["content-type"] == "application/problem+json"
    assert ready.json()["detail"] == "the database does not answer (OperationalError)"
    assert health.status_code == 200
