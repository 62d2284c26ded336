"""What a fax machine says about itself, within T.30's limits."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from faxcast.errors import InputError

MAX_IDENT_LEN: Final = 20  # T30_MAX_IDENT_LEN
MAX_HEADER_LEN: Final = 50  # T30_MAX_PAGE_HEADER_INFO


@dataclass(frozen=True)
class StationIdentity:
    """What a fax machine says about itself: its ident (TSI/CSI) and the header line."""

    ident: str = ""
    header: str = ""

    def __post_init__(self) -> None:
        for field, value, limit in (
            ("ident", self.ident, MAX_IDENT_LEN),
            ("header", self.header, MAX_HEADER_LEN),
        ):
            if len(value) > limit:
                raise InputError(
                    f"{field} is {len(value)} characters, at most {limit}", field=field
                )
            if not (value.isascii() and value.isprintable()):
                raise InputError(f"{field} must be printable ASCII", field=field)
