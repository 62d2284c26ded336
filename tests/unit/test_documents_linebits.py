"""documents.line_bits: each page's bits on the line, checked against libtiff's own coders."""

from __future__ import annotations

import io

import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image, TiffImagePlugin

from faxcast.documents import FaxDocument, FaxPage, line_bits, render_pdf
from faxcast.documents.linebits import mh_bits, t6_bits
from faxcast.documents.model import FAX_WIDTH
from faxcast.domain.quality import Resolution
from tests import pdfs

Ink = npt.NDArray[np.bool_]
T4_OPTIONS = 292  # TIFF tag: bit 0 set for T.4 2-D
STRIP_BYTE_COUNTS = 279
RTC_BITS = 72  # six EOLs end a T.4 page; libtiff's TIFF strips leave them out


def _ink(page: FaxPage) -> Ink:
    bits = np.unpackbits(np.frombuffer(page.ink, dtype=np.uint8))
    ink: Ink = bits.reshape(page.rows, FAX_WIDTH).astype(bool)
    return ink


def _page(ink: Ink) -> FaxPage:
    return FaxPage(np.packbits(ink, axis=1).tobytes(), Resolution.FINE)


def _libtiff_g3_bits(page: FaxPage, *, two_d: bool) -> int:
    """The page coded by libtiff's G3 coder (through Pillow), its strip's bits."""
    out = io.BytesIO()
    # Pillow writes a "1" image's True pixels as 1 bits, which the coder takes for black.
    Image.fromarray(_ink(page)).save(
        out, "TIFF", compression="group3", tiffinfo={T4_OPTIONS: int(two_d)}
    )
    with Image.open(out) as coded:
        assert isinstance(coded, TiffImagePlugin.TiffImageFile)
        counts: tuple[int, ...] = coded.tag_v2[STRIP_BYTE_COUNTS]
        return 8 * sum(counts)


def _pages() -> dict[str, FaxPage]:
    rendered = {
        "text": render_pdf(pdfs.text_pdf(), Resolution.FINE).pages[0],
        "drawing": render_pdf(pdfs.drawing_pdf(), Resolution.FINE).pages[0],
        "photo": render_pdf(pdfs.photo_pdf(), Resolution.FINE).pages[0],
    }
    noise = np.random.default_rng(17).random((400, FAX_WIDTH)) < 0.5
    black = np.ones((50, FAX_WIDTH), dtype=bool)
    return {**rendered, "noise": _page(noise), "black": _page(black)}


PAGES = _pages()


@pytest.mark.parametrize("name", list(PAGES))
def test_t4_1d_bits_are_libtiffs_to_the_page_end(name: str) -> None:
    page = PAGES[name]
    coded = _libtiff_g3_bits(page, two_d=False)
    # The same run codes and EOLs; libtiff pads its strip's last byte, we count the RTC.
    assert coded <= mh_bits(page) <= coded + RTC_BITS


def test_a_blank_row_costs_a_1728_run_and_its_eol() -> None:
    page = _page(np.zeros((10, FAX_WIDTH), dtype=bool))
    # White 1728: make-up code of 9 bits, terminating 0 of 8 bits; then the 12-bit EOL.
    assert mh_bits(page) == 10 * (9 + 8 + 12) + RTC_BITS


def test_a_row_starting_black_opens_with_an_empty_white_run() -> None:
    ink = np.zeros((1, FAX_WIDTH), dtype=bool)
    ink[0, 0] = True
    # White 0 (8 bits), black 1 (3), white 1727 = make-up 1664 (6) + terminating 63 (8).
    assert mh_bits(_page(ink)) == 8 + 3 + 6 + 8 + 12 + RTC_BITS


@pytest.mark.parametrize("name", list(PAGES))
def test_line_bits_cover_every_coding_a_call_may_use(name: str) -> None:
    page = PAGES[name]
    (bits,) = line_bits(FaxDocument((page,), page.resolution))
    assert bits >= t6_bits(page)
    assert bits >= mh_bits(page)
    assert bits >= _libtiff_g3_bits(page, two_d=True)
