"""What a fax machine says about itself, within T.30's limits and the header line's."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from faxcast.errors import InputError
from faxcast.fields import Field
from faxcast.i18n import codes

MAX_IDENT_LEN: Final = 20  # T30_MAX_IDENT_LEN
MAX_HEADER_LEN: Final = 50
HEADER_CHARSET: Final = "cp1252"
"""What the header line may hold: Windows' Western European set (é, ô, œ, —, €), every
character of which the header's font draws."""


@dataclass(frozen=True)
class StationIdentity:
    """What a fax machine says about itself: its ident (TSI/CSI, ASCII as T.30 sends it) and
    the header line printed on top of its pages."""

    ident: str = ""
    header: str = ""

    def __post_init__(self) -> None:
        if len(self.ident) > MAX_IDENT_LEN:
            raise InputError(
                codes.IDENT_TOO_LONG(count=len(self.ident), limit=MAX_IDENT_LEN), field=Field.IDENT
            )
        if not (self.ident.isascii() and self.ident.isprintable()):
            raise InputError(codes.IDENT_NOT_ASCII(), field=Field.IDENT)
        if len(self.header) > MAX_HEADER_LEN:
            raise InputError(
                codes.HEADER_TOO_LONG(count=len(self.header), limit=MAX_HEADER_LEN),
                field=Field.HEADER,
            )
        if not drawable(self.header):
            raise InputError(codes.HEADER_CHARACTERS(), field=Field.HEADER)


def drawable(text: str) -> bool:
    """Whether the header line may hold `text` (whatever its length)."""
    try:
        text.encode(HEADER_CHARSET)
    except UnicodeEncodeError:
        return False
    return text.isprintable()
