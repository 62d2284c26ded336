"""Password hashes (argon2id), with a bounded cost: few at once, each with bounded memory."""

from __future__ import annotations

import threading
from typing import Final

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from faxcast.errors import InputError
from faxcast.fields import Field
from faxcast.i18n import codes

MIN_CHARS: Final = 10
MAX_CHARS: Final = 256
# OWASP's argon2id minimum (19 MiB, 2 passes): each hash's memory is bounded, and so is the
# number hashed at once, so a flood of sign-ins costs at most _AT_ONCE * 19 MiB.
_HASHER: Final = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
_AT_ONCE: Final = threading.BoundedSemaphore(2)
# Checked against when the login is unknown, so that answering takes as long as for a known one.
_DUMMY: Final = _HASHER.hash("faxcast: no such user")


def check_new(password: str, field: Field = Field.PASSWORD) -> str:
    """The password if it may be chosen, else InputError."""
    if len(password) < MIN_CHARS:
        raise InputError(codes.PASSWORD_TOO_SHORT(count=MIN_CHARS), field=field)
    if len(password) > MAX_CHARS:
        raise InputError(codes.PASSWORD_TOO_LONG(count=MAX_CHARS), field=field)
    return password


def hash_password(password: str) -> str:
    """The password's argon2id hash."""
    with _AT_ONCE:
        return _HASHER.hash(password)


def matches(password_hash: str | None, password: str) -> bool:
    """Whether `password` is the one hashed (a user with no password matches nothing)."""
    with _AT_ONCE:
        try:
            return _HASHER.verify(password_hash or _DUMMY, password[:MAX_CHARS]) and (
                password_hash is not None
            )
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False
