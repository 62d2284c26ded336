"""What a fax machine says about itself, within T.30's limits."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from faxcast.errors import InputError
from faxcast.fields import Field
from faxcast.i18n import codes

MAX_IDENT_LEN: Final = 20  # T30_MAX_IDENT_LEN
MAX_HEADER_LEN: Final = 50  # T30_MAX_PAGE_HEADER_INFO


@dataclass(frozen=True)
class StationIdentity:
    """What a fax machine says about itself: its ident (TSI/CSI) and the header line."""

    ident: str = ""
    header: str = ""

    def __post_init__(self) -> None:
        for field, value, limit, too_long, not_ascii in (
            (Field.IDENT, self.ident, MAX_IDENT_LEN, codes.IDENT_TOO_LONG, codes.IDENT_NOT_ASCII),
            (
                Field.HEADER,
                self.header,
                MAX_HEADER_LEN,
                codes.HEADER_TOO_LONG,
                codes.HEADER_NOT_ASCII,
            ),
        ):
            if len(value) > limit:
                raise InputError(too_long(count=len(value), limit=limit), field=field)
            if not (value.isascii() and value.isprintable()):
                raise InputError(not_ascii(), field=field)
