"""Both blob stores on both databases: idempotent puts, transactional rows, checked reads."""

from __future__ import annotations

import hashlib
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, update

from faxcast.errors import BlobCorruptError, InputError, NotFoundError
from faxcast.fields import Field
from faxcast.store.blobs import (
    BlobStore,
    DatabaseBlobStore,
    FileBlobStore,
    blob_store_for,
)
from faxcast.store.tables import blobs

NOW = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)
PDF = b"%PDF-1.7\n" + bytes(range(256)) * 64
PDF_SHA256 = hashlib.sha256(PDF).hexdigest()
KINDS = ["files", "database"]


@pytest.fixture(params=KINDS, ids=KINDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStore:
    """Each blob store, with its files (if any) under tmp_path/blobs."""
    return blob_store_for(request.param, tmp_path)


def _rows(engine: Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(blobs)).scalar_one()


def test_put_then_get_returns_the_bytes(engine: Engine, store: BlobStore) -> None:
    with engine.begin() as conn:
        sha256 = store.put(conn, PDF, now=NOW)
    assert sha256 == PDF_SHA256
    with engine.connect() as conn:
        assert store.exists(conn, sha256)
        assert store.get(conn, sha256) == PDF
        row = conn.execute(select(blobs).where(blobs.c.sha256 == sha256)).one()
    assert row.size == len(PDF)
    assert row.created_at == NOW
    assert row.data == (PDF if isinstance(store, DatabaseBlobStore) else None)


def test_the_empty_blob_is_a_blob(engine: Engine, store: BlobStore) -> None:
    with engine.begin() as conn:
        sha256 = store.put(conn, b"", now=NOW)
        assert store.get(conn, sha256) == b""


def test_put_is_idempotent(engine: Engine, store: BlobStore) -> None:
    with engine.begin() as conn:
        first = store.put(conn, PDF, now=NOW)
        second = store.put(conn, PDF, now=NOW)
    with engine.begin() as conn:
        third = store.put(conn, PDF, now=NOW)
    assert first == second == third
    assert _rows(engine) == 1


def test_a_rolled_back_put_leaves_no_blob(engine: Engine, store: BlobStore) -> None:
    with engine.connect() as conn:
        sha256 = store.put(conn, PDF, now=NOW)
        assert store.exists(conn, sha256)
        conn.rollback()
        assert not store.exists(conn, sha256)
        with pytest.raises(NotFoundError):
            store.get(conn, sha256)
    with engine.begin() as conn:
        store.put(conn, PDF, now=NOW)
    with engine.connect() as conn:
        assert store.get(conn, sha256) == PDF


def test_concurrent_puts_of_the_same_bytes_both_succeed(engine: Engine, store: BlobStore) -> None:
    first_put = threading.Event()
    errors: list[BaseException] = []

    def first() -> None:
        try:
            with engine.begin() as conn:
                store.put(conn, PDF, now=NOW)
                first_put.set()
                time.sleep(0.3)  # the second put now waits on this transaction
        except BaseException as exc:
            first_put.set()
            errors.append(exc)

    def second() -> None:
        try:
            first_put.wait()
            with engine.begin() as conn:
                store.put(conn, PDF, now=NOW)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert _rows(engine) == 1


@pytest.mark.parametrize("sha256", ["0" * 64, PDF_SHA256.upper(), "../../etc/passwd", ""])
def test_unknown_blobs_are_not_found(engine: Engine, store: BlobStore, sha256: str) -> None:
    with engine.connect() as conn:
        assert not store.exists(conn, sha256)
        with pytest.raises(NotFoundError):
            store.get(conn, sha256)


def test_file_store_writes_one_file_per_blob(engine: Engine, tmp_path: Path) -> None:
    store = FileBlobStore(tmp_path / "blobs")
    with engine.begin() as conn:
        store.put(conn, PDF, now=NOW)
    path = tmp_path / "blobs" / PDF_SHA256[:2] / PDF_SHA256[2:4] / PDF_SHA256
    assert path.read_bytes() == PDF
    assert [p for p in (tmp_path / "blobs").rglob("*") if p.is_file()] == [path]


def test_file_store_refuses_a_damaged_file(engine: Engine, tmp_path: Path) -> None:
    store = FileBlobStore(tmp_path / "blobs")
    with engine.begin() as conn:
        store.put(conn, PDF, now=NOW)
    path = tmp_path / "blobs" / PDF_SHA256[:2] / PDF_SHA256[2:4] / PDF_SHA256
    path.write_bytes(PDF[:-1] + b"\x00")
    with engine.connect() as conn, pytest.raises(BlobCorruptError, match=PDF_SHA256) as damaged:
        store.get(conn, PDF_SHA256)
    assert damaged.value.sha256 == PDF_SHA256


def test_file_store_refuses_a_missing_file(engine: Engine, tmp_path: Path) -> None:
    store = FileBlobStore(tmp_path / "blobs")
    with engine.begin() as conn:
        store.put(conn, PDF, now=NOW)
    (tmp_path / "blobs" / PDF_SHA256[:2] / PDF_SHA256[2:4] / PDF_SHA256).unlink()
    with engine.connect() as conn:
        assert not store.exists(conn, PDF_SHA256)
        with pytest.raises(BlobCorruptError, match=f"{PDF_SHA256}.*missing"):
            store.get(conn, PDF_SHA256)


def test_database_store_refuses_damaged_bytes(engine: Engine) -> None:
    store = DatabaseBlobStore()
    with engine.begin() as conn:
        store.put(conn, PDF, now=NOW)
        conn.execute(update(blobs).values(data=b"not the pdf"))
    with engine.connect() as conn, pytest.raises(BlobCorruptError, match=PDF_SHA256):
        store.get(conn, PDF_SHA256)


def test_database_store_fills_a_row_the_file_store_wrote(engine: Engine, tmp_path: Path) -> None:
    files, database = FileBlobStore(tmp_path / "blobs"), DatabaseBlobStore()
    with engine.begin() as conn:
        files.put(conn, PDF, now=NOW)
        assert not database.exists(conn, PDF_SHA256)
        with pytest.raises(BlobCorruptError, match="no data"):
            database.get(conn, PDF_SHA256)
        database.put(conn, PDF, now=NOW)
        assert database.get(conn, PDF_SHA256) == PDF
    assert _rows(engine) == 1


def test_blob_store_for_knows_two_kinds(tmp_path: Path) -> None:
    files = blob_store_for("files", tmp_path)
    assert isinstance(files, FileBlobStore)
    assert files.root == tmp_path / "blobs"
    assert isinstance(blob_store_for("database", tmp_path), DatabaseBlobStore)
    with pytest.raises(InputError) as refused:
        blob_store_for("s3", tmp_path)
    assert refused.value.field is Field.BLOB_STORE
