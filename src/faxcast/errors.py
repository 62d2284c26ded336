"""faxcast's exception tree; every error a user can see is one of these.

Each carries a `Message` (a stable code and its values, faxcast.i18n): `str(error)` is its
English text for logs, and the API, the web pages and the CLI show it in the reader's language.

FaxcastError
 ├── InputError            bad input from the user: names the field or line at fault
 │    ├── MultipleInputError      several of them at once, one per field
 │    ├── DocumentError    a PDF or TIFF that cannot be faxed (with a reason code and page)
 │    └── RecipientListError (domain.numbers) every bad entry of a number list
 ├── NotFoundError         no such object for this account
 ├── ConflictError         an action the current state does not allow
 ├── AuthError             no valid session or token: the caller must sign in
 ├── ForbiddenError        the caller's role in the account does not allow the action
 ├── ThrottledError        too many failed sign-ins: wait before trying again
 ├── FaxError              the fax engine could not run a session (set-up, not a failed call)
 ├── BlobCorruptError      a stored file is missing or no longer matches its SHA-256
 ├── ConfigError           a setting, or a file the settings lead to, cannot be used
 └── ProtocolError         bytes from the network that do not parse (SIP, SDP, RTP, UDPTL)
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import TypeVar

from faxcast.fields import Field
from faxcast.i18n import Message, codes


class FaxcastError(Exception):
    """Base of every error faxcast raises on purpose; `message` says what, in any language."""

    def __init__(self, message: Message) -> None:
        super().__init__(message)
        self.message = message


class InputError(FaxcastError):
    """Bad user input; `field` names the input at fault when there is one."""

    def __init__(self, message: Message, *, field: Field | None = None) -> None:
        super().__init__(message)
        self.field = field


class MultipleInputError(InputError):
    """Several input errors found together, so a form can show each next to its field."""

    def __init__(self, errors: list[InputError]) -> None:
        listed = tuple(
            codes.INPUT_FIELD(field=e.field.api if e.field else "input", message=e.message)
            for e in errors
        )
        super().__init__(codes.INPUT_SEVERAL(errors=listed))
        self.errors = tuple(errors)


T = TypeVar("T")


def collect(errors: list[InputError], check: Callable[[], T]) -> T | None:
    """`check()`, or None with its InputError added to `errors`: to report every problem at once."""
    try:
        return check()
    except InputError as error:
        errors.append(error)
        return None


def raise_all(errors: list[InputError]) -> None:
    """Raise the problems found as one error (several become a MultipleInputError)."""
    if errors:
        raise errors[0] if len(errors) == 1 else MultipleInputError(errors)


class DocumentProblem(enum.Enum):
    """Why a document was refused; the values are stable codes for the API."""

    NOT_PDF = "not_pdf"
    ENCRYPTED = "encrypted"
    CORRUPT = "corrupt"
    EMPTY = "empty"
    TOO_MANY_PAGES = "too_many_pages"
    TOO_LARGE = "too_large"
    RENDER_FAILED = "render_failed"
    BAD_TIFF = "bad_tiff"
    # Bounded resources (issue 13): rendering needed more memory or time than allowed.
    TOO_COMPLEX = "too_complex"


class DocumentError(InputError):
    """A document that cannot be faxed; `page` is 1-based when one page is at fault."""

    def __init__(
        self,
        problem: DocumentProblem,
        message: Message,
        *,
        page: int | None = None,
        field: Field | None = Field.DOCUMENT_FILE,
    ) -> None:
        super().__init__(message, field=field)
        self.problem = problem
        self.page = page


class NotFoundError(FaxcastError):
    """The object does not exist, or belongs to another account."""


class ConflictError(FaxcastError):
    """The action is not allowed in the object's current state."""


class AuthError(FaxcastError):
    """The request carries no valid session or API token."""


class ForbiddenError(FaxcastError):
    """The caller belongs to the account, but their role does not allow the action."""


class ThrottledError(FaxcastError):
    """Refused without checking: too many recent failures; `retry_after_s` says how long to wait."""

    def __init__(self, message: Message, *, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class FaxError(FaxcastError):
    """The fax engine could not set up or run a session."""


class BlobCorruptError(FaxcastError):
    """A stored blob is missing or its bytes no longer match its SHA-256."""

    def __init__(self, sha256: str, problem: Message) -> None:
        super().__init__(codes.BLOB_DAMAGED(sha256=sha256, problem=problem))
        self.sha256 = sha256


class ConfigError(FaxcastError):
    """A setting, or a file the settings lead to, cannot be used; the server does not start."""


class ProtocolError(FaxcastError):
    """Bytes from the network that do not parse: a SIP message, SDP, an RTP or UDPTL packet."""
