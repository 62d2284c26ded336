"""Secrets at rest: a SIP line's password is stored sealed (Fernet) under a key of its own.

The key is derived from the server's secret key for this use only, and reaches the store with
each connection (`with_sealer`, set by the services' transactions), so the store never reads the
settings. A sealed value starts with its version (`SEALED_PREFIX`); one without it is a password
an older faxcast stored in clear: read as it is, and sealed at the next start.
"""

from __future__ import annotations

import base64
from typing import Final

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import Connection

SEALED_PREFIX: Final = "sealed:v1:"
_OPTION: Final = "faxcast_sealer"
_PURPOSE: Final = b"faxcast sip line passwords"


class Sealer:
    """Seals and opens stored secrets with a key derived from the server's secret key."""

    __slots__ = ("_fernet",)

    def __init__(self, secret_key: bytes) -> None:
        key = HKDF(algorithm=SHA256(), length=32, salt=None, info=_PURPOSE).derive(secret_key)
        self._fernet = Fernet(base64.urlsafe_b64encode(key))

    def __repr__(self) -> str:
        return "Sealer(<key>)"

    def seal(self, clear: str) -> str:
        """The stored form of `clear`: the version prefix and a Fernet token."""
        return SEALED_PREFIX + self._fernet.encrypt(clear.encode()).decode("ascii")

    def open(self, stored: str) -> str | None:
        """The clear text of a sealed value; None when this key cannot open it."""
        try:
            return self._fernet.decrypt(stored.removeprefix(SEALED_PREFIX)).decode()
        except (InvalidToken, UnicodeDecodeError):
            return None


def is_sealed(stored: str) -> bool:
    """Whether a stored value is sealed (else it was stored in clear by an older faxcast)."""
    return stored.startswith(SEALED_PREFIX)


def with_sealer(conn: Connection, sealer: Sealer) -> Connection:
    """The connection, carrying the sealer its secrets are stored and read with."""
    return conn.execution_options(**{_OPTION: sealer})


def sealer_of(conn: Connection) -> Sealer | None:
    """The sealer the connection carries, if any."""
    sealer = conn.get_execution_options().get(_OPTION)
    return sealer if isinstance(sealer, Sealer) else None
