"""The header line a fax machine prints at the top of each page, drawn into the page itself.

The line (the sender's local date and time in its language, the line's header text, its fax
number, "page 2/3") is drawn into the page's top rows, its top margin, per call: it carries the
time of sending. It replaces SpanDSP's own header, which is ASCII, in UTC and in English, and
adds rows above the page.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Final
from zoneinfo import ZoneInfo

import numpy as np
from babel.dates import format_skeleton, format_time
from PIL import Image, ImageDraw, ImageFont

from faxcast.documents.model import FAX_WIDTH, ROW_BYTES, FaxDocument, FaxPage
from faxcast.domain.locale import language_error, timezone_error
from faxcast.domain.quality import Resolution
from faxcast.domain.station import StationIdentity
from faxcast.errors import ConfigError, raise_all
from faxcast.i18n import codes, translator

FONT_PATH: Final = Path("/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf")
"""DejaVu Sans Mono (Debian's fonts-dejavu-core, a free licence): every Latin accent."""

BAND_ROWS: Final = 32
"""The header's band at fine resolution (about 4 mm); half as many rows at standard."""

_FONT_PX: Final = 22  # capitals about 2 mm tall at 204 dpi, as fax machines print
_MARGIN_PX: Final = 48  # 6 mm: the A4 page's side margin in the 215 mm scan line, and more
_GAP: Final = "   "
_BASELINE: Final = 25  # from the band's top, at fine: the text's descenders stay inside


@dataclass(frozen=True)
class HeaderLine:
    """What the top of every sent page says about its sender, in the account's zone and
    language; the date and the page number are the call's."""

    station: StationIdentity
    timezone: str
    language: str

    def __post_init__(self) -> None:
        errors = [timezone_error(self.timezone), language_error(self.language)]
        raise_all([error for error in errors if error is not None])

    @classmethod
    def of(cls, station: StationIdentity, timezone: str, language: str) -> HeaderLine | None:
        """The station's header line; None for a station with neither header text nor number,
        whose pages go as they are."""
        return cls(station, timezone, language) if station.header or station.ident else None

    def texts(self, sent_at: datetime, page: int, total: int) -> tuple[str, str]:
        """The line's left part (date, time, header text, number) and its right part (page)."""
        local = sent_at.astimezone(ZoneInfo(self.timezone))
        when = (
            f"{format_skeleton('yMMMd', local, locale=self.language)} "
            f"{format_time(local, 'short', locale=self.language)}"
        )
        left = _GAP.join(part for part in (when, self.station.header, self.station.ident) if part)
        right = translator(self.language).message(codes.HEADER_PAGE(page=page, total=total))
        return left, right


def band_rows(resolution: Resolution) -> int:
    """How many of a page's top rows the header takes at `resolution`."""
    return BAND_ROWS if resolution is Resolution.FINE else BAND_ROWS // 2


def band(left: str, right: str, resolution: Resolution) -> bytes:
    """The header's rows, packed as a FaxPage's ink: `left` from the left margin, `right`
    ending at the right one, on white."""
    image = Image.new("L", (FAX_WIDTH, BAND_ROWS), 255)
    draw = ImageDraw.Draw(image)
    font = _font()
    draw.text((_MARGIN_PX, _BASELINE), left, font=font, fill=0, anchor="ls")
    draw.text((FAX_WIDTH - _MARGIN_PX, _BASELINE), right, font=font, fill=0, anchor="rs")
    ink = np.asarray(image) < 128
    rows = band_rows(resolution)
    if rows != BAND_ROWS:
        # Standard rows are twice as tall as they are wide: each row inks what either of its
        # two fine rows does, so no thin stroke is lost.
        ink = np.asarray(ink.reshape(rows, BAND_ROWS // rows, FAX_WIDTH).any(axis=1))
    return np.packbits(ink, axis=1).tobytes()


def with_header(document: FaxDocument, line: HeaderLine, sent_at: datetime) -> FaxDocument:
    """The document with the header line drawn over each page's top rows (its margin)."""
    total = len(document.pages)
    rows = band_rows(document.resolution)
    pages = []
    for number, page in enumerate(document.pages, start=1):
        top = band(*line.texts(sent_at, number, total), document.resolution)
        ink = (top + page.ink[rows * ROW_BYTES :])[: len(page.ink)]  # as long as it was
        pages.append(FaxPage(ink, page.resolution))
    return FaxDocument(tuple(pages), document.resolution)


@functools.cache
def _font() -> ImageFont.FreeTypeFont:
    try:
        return ImageFont.truetype(str(FONT_PATH), _FONT_PX)
    except OSError as error:
        raise ConfigError(codes.HEADER_FONT_MISSING(path=str(FONT_PATH))) from error
