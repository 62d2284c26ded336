"""The header line: its text in the account's zone and language, and where it is drawn."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from faxcast.documents import FaxDocument, FaxPage
from faxcast.documents.header import FONT_PATH, HeaderLine, band, band_rows, with_header
from faxcast.documents.model import FAX_WIDTH, ROW_BYTES
from faxcast.domain.quality import Resolution
from faxcast.domain.station import (
    HEADER_CHARSET,
    MAX_HEADER_LEN,
    MAX_IDENT_LEN,
    StationIdentity,
    drawable,
)
from faxcast.errors import InputError
from faxcast.fields import Field

STATION = StationIdentity("+33 1 23 45 67 89", "Société Générale — Pôle Santé")
WINTER = datetime(2026, 12, 1, 5, 20, tzinfo=UTC)
SUMMER = datetime(2026, 7, 14, 5, 20, tzinfo=UTC)


@pytest.mark.parametrize(
    ("zone", "language", "sent_at", "when"),
    [
        ("Europe/Paris", "fr", WINTER, "1 déc. 2026 06:20"),
        ("Europe/Paris", "fr", SUMMER, "14 juil. 2026 07:20"),
        ("UTC", "fr", WINTER, "1 déc. 2026 05:20"),
        ("America/New_York", "en", WINTER, "Dec 1, 2026 12:20\N{NARROW NO-BREAK SPACE}AM"),
        ("Asia/Kolkata", "en", SUMMER, "Jul 14, 2026 10:50\N{NARROW NO-BREAK SPACE}AM"),
    ],
)
def test_the_text_is_the_local_time_in_the_accounts_language(
    zone: str, language: str, sent_at: datetime, when: str
) -> None:
    left, right = HeaderLine(STATION, zone, language).texts(sent_at, 2, 3)

    assert left == f"{when}   Société Générale — Pôle Santé   +33 1 23 45 67 89"
    assert right == "page 2/3"


def test_a_station_with_neither_header_text_nor_number_has_no_header_line() -> None:
    assert HeaderLine.of(StationIdentity(), "UTC", "en") is None
    assert HeaderLine.of(StationIdentity("+1 555"), "UTC", "en") is not None
    assert HeaderLine.of(StationIdentity("", "ACME"), "UTC", "en") is not None


def test_an_empty_header_text_or_ident_is_left_out() -> None:
    left, _ = HeaderLine(StationIdentity("", "ACME"), "UTC", "en").texts(WINTER, 1, 1)

    assert left == "Dec 1, 2026 5:20\N{NARROW NO-BREAK SPACE}AM   ACME"


@pytest.mark.parametrize(
    ("zone", "language", "field"),
    [("Mars/Olympus", "fr", Field.TIMEZONE), ("Europe/Paris", "de", Field.LANGUAGE)],
)
def test_an_unknown_zone_or_language_is_refused(zone: str, language: str, field: Field) -> None:
    with pytest.raises(InputError) as refused:
        HeaderLine(STATION, zone, language)

    assert refused.value.field is field


def test_the_longest_line_leaves_room_for_the_page_number() -> None:
    station = StationIdentity("8" * MAX_IDENT_LEN, "W" * MAX_HEADER_LEN)
    # The longest date: a two-digit day, a long month, an afternoon hour in English.
    sent_at = datetime(2026, 9, 30, 23, 59, tzinfo=UTC)
    for language in ("en", "fr"):
        left, right = HeaderLine(station, "UTC", language).texts(sent_at, 50, 50)
        left_ink = _columns(band(left, "", Resolution.FINE))
        right_ink = _columns(band("", right, Resolution.FINE))
        assert max(left_ink) + 40 < min(right_ink), language  # 5 mm apart at least


def _columns(ink: bytes) -> list[int]:
    """The columns a band inks."""
    rows = np.unpackbits(np.frombuffer(ink, np.uint8)).reshape(-1, FAX_WIDTH)
    return [int(c) for c in np.flatnonzero(rows.any(axis=0))]


@pytest.mark.parametrize("resolution", list(Resolution))
def test_the_band_is_drawn_over_the_top_rows_and_the_page_keeps_its_length(
    resolution: Resolution,
) -> None:
    rows = 1145 if resolution is Resolution.STANDARD else 2290
    black = FaxPage(b"\xff" * (rows * ROW_BYTES), resolution)
    document = FaxDocument((black, black), resolution)

    headed = with_header(document, HeaderLine(STATION, "Europe/Paris", "fr"), WINTER)

    top = band_rows(resolution)
    assert top == (16 if resolution is Resolution.STANDARD else 32)
    for number, page in enumerate(headed.pages, start=1):
        assert page.rows == rows
        assert page.ink[top * ROW_BYTES :] == black.ink[top * ROW_BYTES :]
        left, right = HeaderLine(STATION, "Europe/Paris", "fr").texts(WINTER, number, 2)
        assert page.ink[: top * ROW_BYTES] == band(left, right, resolution)
    assert headed.pages[0].ink != headed.pages[1].ink  # page 1/2, page 2/2


def test_the_band_holds_accented_capitals_and_descenders_whole() -> None:
    ink = band("ÉÔÀÇ gjpqy — Œuvre", "page 1/2", Resolution.FINE)  # tall, and below the line

    assert len(ink) == band_rows(Resolution.FINE) * ROW_BYTES
    assert 0 < sum(bin(byte).count("1") for byte in ink) < len(ink) * 8 // 10
    # White first and last rows: nothing reached the band's edges, so nothing was cut.
    assert not any(ink[:ROW_BYTES])
    assert not any(ink[-ROW_BYTES:])


def test_the_font_draws_every_character_a_header_may_hold() -> None:
    font = ImageFont.truetype(str(FONT_PATH), 22)
    missing = _glyph(font, "\ue000")  # a private-use point: the font's "no glyph" box
    allowed = {bytes([b]).decode(HEADER_CHARSET, "ignore") for b in range(256)}
    letters = sorted(c for c in allowed if c and drawable(c) and not c.isspace())
    assert len(letters) > 200
    assert [c for c in letters if _glyph(font, c) == missing] == []
    # And what the dates put in: the narrow no-break space of "6:20 AM".
    assert _glyph(font, "\N{NARROW NO-BREAK SPACE}") != missing


def _glyph(font: ImageFont.FreeTypeFont, character: str) -> bytes:
    image = Image.new("L", (40, 40))
    ImageDraw.Draw(image).text((8, 30), character, font=font, fill=255, anchor="ls")
    return image.tobytes()
