"""faxcast's exception tree; every error a user can see is one of these.

FaxcastError
 ├── InputError            bad input from the user: names the field or line at fault
 │    ├── MultipleInputError      several of them at once, one per field
 │    ├── DocumentError    a PDF or TIFF that cannot be faxed (with a reason code and page)
 │    └── RecipientListError (domain.numbers) every bad entry of a number list
 ├── NotFoundError         no such object for this account
 ├── ConflictError         an action the current state does not allow
 ├── FaxError              the fax engine could not run a session (set-up, not a failed call)
 ├── BlobCorruptError      a stored file is missing or no longer matches its SHA-256
 └── ConfigError           a setting, or a file the settings lead to, cannot be used
"""

from __future__ import annotations

import enum


class FaxcastError(Exception):
    """Base of every error faxcast raises on purpose."""


class InputError(FaxcastError):
    """Bad user input; `field` names the input at fault when there is one."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class MultipleInputError(InputError):
    """Several input errors found together, so a form can show each next to its field."""

    def __init__(self, errors: list[InputError]) -> None:
        super().__init__("; ".join(f"{e.field or 'input'}: {e.message}" for e in errors))
        self.errors = tuple(errors)


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


class DocumentError(InputError):
    """A document that cannot be faxed; `page` is 1-based when one page is at fault."""

    def __init__(
        self,
        problem: DocumentProblem,
        message: str,
        *,
        page: int | None = None,
        field: str | None = "document",
    ) -> None:
        super().__init__(message, field=field)
        self.problem = problem
        self.page = page


class NotFoundError(FaxcastError):
    """The object does not exist, or belongs to another account."""


class ConflictError(FaxcastError):
    """The action is not allowed in the object's current state."""


class FaxError(FaxcastError):
    """The fax engine could not set up or run a session."""


class BlobCorruptError(FaxcastError):
    """A stored blob is missing or its bytes no longer match its SHA-256."""

    def __init__(self, sha256: str, problem: str) -> None:
        super().__init__(f"blob {sha256} is damaged: {problem}")
        self.sha256 = sha256


class ConfigError(FaxcastError):
    """A setting, or a file the settings lead to, cannot be used; the server does not start."""
