"""Content-addressed blobs (PDFs, TIFF-F pages, previews, received faxes), named by their SHA-256.

Every blob has a `blobs` row, written in the caller's transaction, so a blob exists exactly when the
transaction that stored it committed. Where the bytes live is the store's business: in files under
the data directory (one host) or in the row itself (many hosts sharing one PostgreSQL).
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Protocol

from sqlalchemy import Connection, select
from sqlalchemy.dialects import postgresql, sqlite

from faxcast.errors import BlobCorruptError, InputError, NotFoundError
from faxcast.fields import Field
from faxcast.i18n import codes
from faxcast.store.tables import blobs

_SHA256_HEX = re.compile(r"[0-9a-f]{64}")


class BlobStore(Protocol):
    """Where blob bytes live; every method works inside the caller's transaction."""

    def put(self, conn: Connection, data: bytes, *, now: datetime) -> str:
        """Store `data` if it is new (idempotent) and return its SHA-256 in hex."""
        ...

    def get(self, conn: Connection, sha256: str) -> bytes:
        """The blob's bytes, checked against its SHA-256; NotFoundError if there is no such blob."""
        ...

    def exists(self, conn: Connection, sha256: str) -> bool:
        """Whether get() would find this blob."""
        ...


class FileBlobStore:
    """Bytes in files under `root` (root/ab/cd/<sha256>), rows with `data` NULL; for one host.

    The file is written (atomically) before the row. A transaction that rolls back afterwards
    leaves a file with no row: harmless, since the name is the content, and reused by the next put.
    """

    def __init__(self, root: Path) -> None:
        self.root = root

    def put(self, conn: Connection, data: bytes, *, now: datetime) -> str:
        """Store `data` if it is new (idempotent) and return its SHA-256 in hex."""
        sha256 = hashlib.sha256(data).hexdigest()
        path = self._path(sha256)
        if not path.exists():
            _write_atomically(path, data)
        insert = _insert(conn).values(sha256=sha256, size=len(data), created_at=now)
        conn.execute(insert.on_conflict_do_nothing(index_elements=[blobs.c.sha256]))
        return sha256

    def get(self, conn: Connection, sha256: str) -> bytes:
        """The blob's bytes, checked against its SHA-256; NotFoundError if there is no such blob."""
        if not _has_row(conn, sha256):
            raise NotFoundError(codes.NO_BLOB(sha256=sha256))
        try:
            data = self._path(sha256).read_bytes()
        except FileNotFoundError:
            raise BlobCorruptError(
                sha256, codes.BLOB_FILE_MISSING(path=str(self._path(sha256)))
            ) from None
        return _checked(sha256, data)

    def exists(self, conn: Connection, sha256: str) -> bool:
        """Whether get() would find this blob: its row is visible and its file is there."""
        return _has_row(conn, sha256) and self._path(sha256).is_file()

    def _path(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256[2:4] / sha256


class DatabaseBlobStore:
    """Bytes in the `blobs` row itself; every host that reaches the database reaches the blobs."""

    def put(self, conn: Connection, data: bytes, *, now: datetime) -> str:
        """Store `data` if it is new (idempotent) and return its SHA-256 in hex."""
        sha256 = hashlib.sha256(data).hexdigest()
        insert = _insert(conn).values(sha256=sha256, size=len(data), data=data, created_at=now)
        # A row the file store wrote (data NULL) gets the bytes: switching stores heals on re-put.
        conn.execute(
            insert.on_conflict_do_update(
                index_elements=[blobs.c.sha256],
                set_={"data": insert.excluded.data},
                where=blobs.c.data.is_(None),
            )
        )
        return sha256

    def get(self, conn: Connection, sha256: str) -> bytes:
        """The blob's bytes, checked against its SHA-256; NotFoundError if there is no such blob."""
        if not _SHA256_HEX.fullmatch(sha256):
            raise NotFoundError(codes.NO_BLOB(sha256=repr(sha256)))
        row = conn.execute(select(blobs.c.data).where(blobs.c.sha256 == sha256)).one_or_none()
        if row is None:
            raise NotFoundError(codes.NO_BLOB(sha256=sha256))
        if row.data is None:
            raise BlobCorruptError(sha256, codes.BLOB_ROW_EMPTY())
        return _checked(sha256, bytes(row.data))

    def exists(self, conn: Connection, sha256: str) -> bool:
        """Whether get() would find this blob: its row is visible and carries the bytes."""
        if not _SHA256_HEX.fullmatch(sha256):
            return False
        query = select(blobs.c.sha256).where(blobs.c.sha256 == sha256, blobs.c.data.is_not(None))
        return conn.execute(query).first() is not None


def blob_store_for(kind: str, data_dir: Path) -> BlobStore:
    """The store FAXCAST_BLOB_STORE names: "files" (under data_dir/blobs) or "database"."""
    if kind == "files":
        return FileBlobStore(data_dir / "blobs")
    if kind == "database":
        return DatabaseBlobStore()
    raise InputError(codes.UNKNOWN_BLOB_STORE(kind=kind), field=Field.BLOB_STORE)


def _insert(conn: Connection) -> postgresql.Insert | sqlite.Insert:
    # ON CONFLICT makes concurrent puts of the same bytes safe; both dialects spell it alike.
    dialect_insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    return dialect_insert(blobs)


def _has_row(conn: Connection, sha256: str) -> bool:
    # The pattern check also keeps a caller's string from ever becoming a path outside the root.
    if not _SHA256_HEX.fullmatch(sha256):
        return False
    return conn.execute(select(blobs.c.sha256).where(blobs.c.sha256 == sha256)).first() is not None


def _checked(sha256: str, data: bytes) -> bytes:
    actual = hashlib.sha256(data).hexdigest()
    if actual != sha256:
        raise BlobCorruptError(sha256, codes.BLOB_HASH_MISMATCH(count=len(data), actual=actual))
    return data


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp_name = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as temp:
            temp.write(data)
            temp.flush()
            os.fsync(temp.fileno())
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
    # The rename itself is durable only once the directory is synced.
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
