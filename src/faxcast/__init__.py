"""faxcast: send one document to many fax numbers, really, and track every delivery."""

from faxcast.domain.quality import Quality, Resolution
from faxcast.errors import (
    ConflictError,
    DocumentError,
    DocumentProblem,
    FaxcastError,
    FaxError,
    InputError,
    NotFoundError,
)
from faxcast.fields import Field
from faxcast.i18n import Message

__all__ = [
    "ConflictError",
    "DocumentError",
    "DocumentProblem",
    "FaxError",
    "FaxcastError",
    "Field",
    "InputError",
    "Message",
    "NotFoundError",
    "Quality",
    "Resolution",
]
