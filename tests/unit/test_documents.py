"""documents: PDF validation and rendering, on PDFs made by tests/pdfs.py."""

from __future__ import annotations

import io
from collections.abc import Callable
from importlib.resources import files

import numpy as np
import pypdfium2 as pdfium
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

import faxcast.documents
from faxcast.documents import (
    DocumentLimits,
    FaxDocument,
    FaxPage,
    preview_png,
    render_pdf,
)
from faxcast.documents import pdf as pdf_module
from faxcast.documents.bilevel import GreyPixels
from faxcast.domain.quality import Resolution
from faxcast.errors import DocumentError, DocumentProblem
from tests import pdfs

MB = 1024 * 1024
A4_ROWS = {Resolution.STANDARD: 1146, Resolution.FINE: 2292}
"""297 mm at 98 and 196 rows per inch (T.4's 3.85 and 7.7 lines per mm, as TIFF-F tags them)."""
A4_COLUMNS = (20, 1707)
"""210 mm at 204 dpi is 1687 px: A4 sits 20 px from the left of the 215 mm scan line, centred."""
LETTER_ROWS = {Resolution.STANDARD: 1074, Resolution.FINE: 2149}
"""US Letter is 215.9 mm wide, 0.9 mm more than the scan line: scaled by 1728 / 1734 px to fit,
its 279.4 mm (1078 and 2156 rows) come out 278.4 mm long."""


def refused(data: bytes, limits: DocumentLimits | None = None) -> DocumentError:
    with pytest.raises(DocumentError) as caught:
        render_pdf(data, Resolution.FINE, limits=limits or DocumentLimits())
    return caught.value


def test_public_api_is_exactly_all() -> None:
    public = {
        name
        for name, value in vars(faxcast.documents).items()
        if not name.startswith("_") and not isinstance(value, type(faxcast))
    }
    assert public == set(faxcast.documents.__all__)


# --- refusals -----------------------------------------------------------------------------


def test_zero_bytes_are_empty() -> None:
    error = refused(b"")
    assert error.problem is DocumentProblem.EMPTY
    assert "empty" in str(error)


@pytest.mark.parametrize(
    "data",
    [b"not even a pdf file\n", b"\x89PNG\r\n\x1a\n" + bytes(64), b"%PD", b"\x00" * 2048],
    ids=["text", "png", "short", "zeros"],
)
def test_content_that_is_not_pdf_is_refused(data: bytes) -> None:
    error = refused(data)
    assert error.problem is DocumentProblem.NOT_PDF
    assert "not a PDF" in str(error)


def test_header_after_a_little_junk_is_accepted() -> None:
    document = render_pdf(b"junk\r\n" + pdfs.text_pdf(), Resolution.STANDARD)
    assert len(document.pages) == 1


def test_over_the_size_limit_is_refused_before_parsing() -> None:
    padded = pdfs.text_pdf() + b"%" * MB
    error = refused(padded, DocumentLimits(max_bytes=MB))
    assert error.problem is DocumentProblem.TOO_LARGE
    # Both figures, as precise as it takes to tell them apart.
    size = f"{len(padded) / MB:.3f}"
    assert str(error) == f"the document is {size} MB, more than the 1 MB limit"
    # Not even a PDF: the size is judged first, without reading the content.
    assert refused(b"x" * (MB + 1), DocumentLimits(max_bytes=MB)).problem is (
        DocumentProblem.TOO_LARGE
    )


def test_exactly_at_the_size_limit_is_accepted() -> None:
    data = pdfs.text_pdf()
    assert render_pdf(data, Resolution.STANDARD, limits=DocumentLimits(max_bytes=len(data)))


def test_default_limits() -> None:
    assert DocumentLimits() == DocumentLimits(max_pages=50, max_bytes=20 * MB)


def pdfium_blank() -> bytes:
    buffer = io.BytesIO()
    pdfium.PdfDocument.new().save(buffer)
    return buffer.getvalue()


@pytest.mark.parametrize("make", [pdfs.empty_pdf, pdfium_blank], ids=["hand-written", "pdfium"])
def test_pdf_without_pages_is_empty(make: Callable[[], bytes]) -> None:
    error = refused(make())
    assert error.problem is DocumentProblem.EMPTY
    assert "no pages" in str(error)


def test_more_pages_than_the_limit_are_refused() -> None:
    error = refused(pdfs.text_pdf(3), DocumentLimits(max_pages=2))
    assert error.problem is DocumentProblem.TOO_MANY_PAGES
    assert "3 pages" in str(error)
    assert "limit of 2" in str(error)


def test_as_many_pages_as_the_limit_are_accepted() -> None:
    document = render_pdf(pdfs.text_pdf(3), Resolution.STANDARD, limits=DocumentLimits(3))
    assert len(document.pages) == 3


def test_user_password_is_refused_as_encrypted() -> None:
    error = refused(pdfs.encrypted_pdf(user_password="secret"))
    assert error.problem is DocumentProblem.ENCRYPTED
    assert "password" in str(error)


def test_owner_password_only_is_accepted() -> None:
    document = render_pdf(pdfs.encrypted_pdf(user_password=""), Resolution.FINE)
    assert len(document.pages) == 1
    assert ink_share(document.pages[0]) > 0.02  # really decrypted: there is text


def test_encrypted_then_broken_is_reported_as_broken() -> None:
    # PDFium keeps its last error code; a stale "password" must not leak into the next file.
    refused(pdfs.encrypted_pdf())
    assert refused(pdfs.empty_pdf()).problem is DocumentProblem.EMPTY
    refused(pdfs.encrypted_pdf())
    assert refused(b"%PDF-1.7\nnothing else").problem is DocumentProblem.CORRUPT


@pytest.mark.parametrize(
    "data",
    [b"%PDF-1.4\n1 0 obj << /Type /Catalog", pdfs.text_pdf()[:200], b"%PDF-" + bytes(500)],
    ids=["no-body", "cut", "zeros"],
)
def test_damaged_pdf_is_corrupt(data: bytes) -> None:
    error = refused(data)
    assert error.problem is DocumentProblem.CORRUPT
    assert "damaged" in str(error)


def test_a_page_that_fails_to_render_names_the_page(monkeypatch: pytest.MonkeyPatch) -> None:
    render_page = pdf_module._render_page

    def fail_on_page_2(pdf: pdfium.PdfDocument, index: int, resolution: Resolution) -> GreyPixels:
        if index == 1:
            raise RuntimeError("PDFium ran out of memory")
        return render_page(pdf, index, resolution)

    monkeypatch.setattr(pdf_module, "_render_page", fail_on_page_2)
    with pytest.raises(DocumentError) as caught:
        pdf_module.render_pdf(pdfs.text_pdf(3), Resolution.FINE)  # in this process: patched
    error = caught.value
    assert error.problem is DocumentProblem.RENDER_FAILED
    assert error.page == 2
    assert "page 2" in str(error)
    assert isinstance(error.__cause__, RuntimeError)


def test_a_page_too_long_to_fax_is_refused() -> None:
    # 8000 pt is 2.82 m: 21778 rows at fine, over the 20000-row (2.59 m) limit. Narrow as it is,
    # the strip goes out at its true size, so its length alone decides.
    page = pdfs.Page(size=(100.0, 8000.0))
    page.text(10, 7900, 12, "a very long strip")
    error = refused(pdfs.build_pdf([pdfs.Page(), page]))
    assert error.problem is DocumentProblem.RENDER_FAILED
    assert error.page == 2
    assert str(error) == "page 2 is too long to fax (2.82 m, the limit is 2.59 m)"


def test_a_narrow_page_within_the_length_limit_is_accepted() -> None:
    # 100 x 2000 pt (35 x 706 mm): at its true size 5444 rows, well within the limit.
    page = pdfs.Page(size=(100.0, 2000.0))
    page.text(10, 1900, 12, "a receipt")
    document = render_pdf(pdfs.build_pdf([page]), Resolution.FINE)
    assert document.pages[0].rows == 5444


_TEXT = pdfs.text_pdf()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    flips=st.lists(st.tuples(st.integers(0, len(_TEXT) - 1), st.integers(1, 255)), max_size=12),
    cut=st.integers(1, len(_TEXT)),
)
def test_damaged_bytes_give_a_document_or_a_document_error(
    flips: list[tuple[int, int]], cut: int
) -> None:
    data = bytearray(_TEXT[:cut])
    for position, mask in flips:
        if position < len(data):
            data[position] ^= mask
    try:
        document = render_pdf(bytes(data), Resolution.STANDARD)
    except DocumentError:
        return
    assert all(page.image.width == 1728 for page in document.pages)


# --- rendering ----------------------------------------------------------------------------


@pytest.mark.parametrize("resolution", list(Resolution), ids=lambda r: r.value)
def test_a4_text_page_shape(resolution: Resolution) -> None:
    document = render_pdf(pdfs.text_pdf(2), resolution)
    assert isinstance(document, FaxDocument)
    assert document.resolution is resolution
    assert len(document.pages) == 2
    for page in document.pages:
        assert isinstance(page, FaxPage)
        assert page.resolution is resolution
        assert page.image.mode == "1"
        assert page.image.size == (1728, A4_ROWS[resolution])
        assert 0.01 < ink_share(page) < 0.2


def test_standard_pages_are_half_as_tall_as_fine_ones() -> None:
    data = pdfs.mixed_pdf()
    standard = render_pdf(data, Resolution.STANDARD)
    fine = render_pdf(data, Resolution.FINE)
    for low, high in zip(standard.pages, fine.pages, strict=True):
        assert abs(2 * low.image.height - high.image.height) <= 2


def ink_box(page: FaxPage) -> tuple[int, int, int, int]:
    """Left, top, right and bottom (exclusive) of the page's ink."""
    rows, columns = np.nonzero(~np.asarray(page.image))
    return int(columns.min()), int(rows.min()), int(columns.max()) + 1, int(rows.max()) + 1


def full_bleed_pdf(size: tuple[float, float]) -> bytes:
    """One page painted black from edge to edge: its ink shows where the page lands."""
    page = pdfs.Page(size=size)
    page.rectangle(0, 0, *size, grey=0)
    return pdfs.build_pdf([page])


@pytest.mark.parametrize("resolution", list(Resolution), ids=lambda r: r.value)
def test_a4_page_is_its_true_size_centred_in_the_scan_line(resolution: Resolution) -> None:
    page = render_pdf(full_bleed_pdf(pdfs.A4), resolution).pages[0]
    assert page.image.size == (1728, A4_ROWS[resolution])
    assert ink_box(page) == (A4_COLUMNS[0], 0, A4_COLUMNS[1], A4_ROWS[resolution])


@pytest.mark.parametrize("resolution", list(Resolution), ids=lambda r: r.value)
def test_letter_page_is_scaled_to_the_scan_line(resolution: Resolution) -> None:
    page = render_pdf(full_bleed_pdf(pdfs.LETTER), resolution).pages[0]
    assert page.image.size == (1728, LETTER_ROWS[resolution])
    assert ink_box(page) == (0, 0, 1728, LETTER_ROWS[resolution])


@pytest.mark.parametrize("resolution", list(Resolution), ids=lambda r: r.value)
def test_a_small_page_is_sent_at_its_true_size(resolution: Resolution) -> None:
    # A5, 148 x 210 mm: 1189 px across at 204 dpi, 810 or 1620 rows; not blown up to the width.
    page = render_pdf(full_bleed_pdf((419.53, 595.28)), resolution).pages[0]
    rows = {Resolution.STANDARD: 810, Resolution.FINE: 1620}[resolution]
    assert page.image.size == (1728, rows)
    assert ink_box(page) == (269, 0, 269 + 1189, rows)


def test_a_wide_page_is_scaled_down_to_the_scan_line() -> None:
    # A3 portrait, 297 x 420 mm, scaled by 215.15 / 297: 304 mm long, 2348 rows at fine.
    page = render_pdf(full_bleed_pdf((841.89, 1190.55)), Resolution.FINE).pages[0]
    assert ink_box(page) == (0, 0, 1728, 2348)


@pytest.mark.parametrize("rotated", [False, True], ids=["landscape-mediabox", "rotate-90"])
def test_landscape_pages_are_turned_to_portrait(rotated: bool) -> None:
    page = render_pdf(pdfs.landscape_pdf(rotated=rotated), Resolution.FINE).pages[0]
    assert page.image.size == (1728, A4_ROWS[Resolution.FINE])
    ink = ~np.asarray(page.image)
    if rotated:
        # /Rotate 90 of a portrait page: turning it back shows the page as it was drawn,
        # title at the top.
        assert ink[: ink.shape[0] // 4].sum() > ink[ink.shape[0] // 2 :].sum()
    else:
        # Turned a quarter left, as PostScript prints landscape: the top edge on the left.
        assert ink[:, : ink.shape[1] // 2].sum() > 2 * ink[:, ink.shape[1] // 2 :].sum()


def test_render_is_deterministic() -> None:
    data = pdfs.mixed_pdf()
    first = render_pdf(data, Resolution.STANDARD)
    second = render_pdf(data, Resolution.STANDARD)
    assert [page.image.tobytes() for page in first.pages] == [
        page.image.tobytes() for page in second.pages
    ]


def test_demo_sample_is_made_by_demo_pdf_and_renders() -> None:
    data = files("faxcast").joinpath("samples/demo.pdf").read_bytes()
    assert len(data) < 100 * 1024
    document = render_pdf(data, Resolution.FINE)
    assert len(document.pages) == 2
    # Same pages as pdfs.demo_pdf() (not the same bytes: zlib builds differ); when this
    # fails, write the file again from that function.
    made = render_pdf(pdfs.demo_pdf(), Resolution.FINE)
    assert [page.image.tobytes() for page in document.pages] == [
        page.image.tobytes() for page in made.pages
    ]


# --- values -------------------------------------------------------------------------------


def test_fax_page_must_be_bilevel_and_1728_wide() -> None:
    with pytest.raises(ValueError, match="1728"):
        FaxPage.from_image(Image.new("1", (1686, 10), 1), Resolution.FINE)
    with pytest.raises(ValueError, match="mode L"):
        FaxPage.from_image(Image.new("L", (1728, 10), 255), Resolution.FINE)


@pytest.mark.parametrize("size", [0, 215, 217, 216 * 3 + 1])
def test_fax_page_is_whole_rows_of_1728_bits(size: int) -> None:
    with pytest.raises(ValueError, match="whole rows of 216 bytes"):
        FaxPage(bytes(size), Resolution.FINE)


def test_fax_page_ink_is_the_image_packed_with_1_for_black() -> None:
    image = Image.new("1", (1728, 3), 1)
    image.putpixel((0, 0), 0)
    image.putpixel((1727, 2), 0)
    page = FaxPage.from_image(image, Resolution.FINE)
    assert page.rows == 3
    assert page.ink == b"\x80" + bytes(215) + bytes(216) + bytes(215) + b"\x01"
    assert page.image.tobytes() == image.tobytes()
    assert page == FaxPage(page.ink, Resolution.FINE)


def test_fax_document_pages_share_its_resolution() -> None:
    page = FaxPage.from_image(Image.new("1", (1728, 10), 1), Resolution.FINE)
    with pytest.raises(ValueError, match="resolution"):
        FaxDocument((page,), Resolution.STANDARD)
    with pytest.raises(ValueError, match="at least one page"):
        FaxDocument((), Resolution.FINE)


# --- previews -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("resolution", "width", "size"),
    [
        (Resolution.FINE, None, (1728, 2292)),
        (Resolution.STANDARD, None, (1728, 2292)),  # rows doubled: square pixels
        (Resolution.FINE, 432, (432, 573)),
        (Resolution.STANDARD, 432, (432, 573)),
        (Resolution.FINE, 4000, (1728, 2292)),  # never enlarged
    ],
)
def test_preview_size(resolution: Resolution, width: int | None, size: tuple[int, int]) -> None:
    page = render_pdf(pdfs.text_pdf(), resolution).pages[0]
    png = preview_png(page, width=width)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    with Image.open(io.BytesIO(png)) as image:
        assert image.size == size


def test_preview_of_a_standard_page_repeats_each_row() -> None:
    page = render_pdf(pdfs.text_pdf(), Resolution.STANDARD).pages[0]
    with Image.open(io.BytesIO(preview_png(page))) as image:
        rows = np.asarray(image.convert("1"))
    original = np.asarray(page.image)
    assert np.array_equal(rows[0::2], original)
    assert np.array_equal(rows[1::2], original)


def test_preview_width_must_be_positive() -> None:
    page = FaxPage.from_image(Image.new("1", (1728, 10), 1), Resolution.FINE)
    with pytest.raises(ValueError, match="at least 1 px"):
        preview_png(page, width=0)


def ink_share(page: FaxPage) -> float:
    return 1.0 - float(np.asarray(page.image).mean())


def ink_annotation_pdf(rect: tuple[float, float, float, float]) -> bytes:
    """An empty A4 page with one black ink annotation and no appearance stream: a stroke
    across the middle of the page, from 100 to 500 pt at y = 421 pt; its /Rect as given."""
    raw = pdfium.raw
    pdf = pdfium.PdfDocument.new()
    page = pdf.new_page(*pdfs.A4)
    annot = raw.FPDFPage_CreateAnnot(page.raw, raw.FPDF_ANNOT_INK)
    points = (raw.FS_POINTF * 2)(raw.FS_POINTF(100, 421), raw.FS_POINTF(500, 421))
    assert raw.FPDFAnnot_AddInkStroke(annot, points, 2) == 0
    assert raw.FPDFAnnot_SetColor(annot, raw.FPDFANNOT_COLORTYPE_Color, 0, 0, 0, 255)
    assert raw.FPDFAnnot_SetRect(annot, raw.FS_RECTF(*rect))
    assert raw.FPDFAnnot_GetAP(annot, raw.FPDF_ANNOT_APPEARANCEMODE_NORMAL, None, 0) == 2
    raw.FPDFPage_CloseAnnot(annot)
    buffer = io.BytesIO()
    pdf.save(buffer)
    page.close()
    pdf.close()
    return buffer.getvalue()


@pytest.mark.parametrize(
    "rect",
    [(90, 431, 510, 411), (20, 100, 60, 60)],
    ids=["around-the-stroke", "elsewhere"],
)
def test_an_ink_annotation_without_appearance_is_drawn(rect: tuple[float, ...]) -> None:
    # PDFium draws the first itself and clips the second to its /Rect: faxcast draws it.
    page = render_pdf(ink_annotation_pdf((rect[0], rect[1], rect[2], rect[3])), Resolution.FINE)
    # 1 pt wide across 100..500 pt: 283..1417 px after the 20 px margin, at row
    # (841.89 - 421) / 72 * 196 = 1146.
    left, top, right, bottom = ink_box(page.pages[0])
    assert abs(left - (20 + 283)) <= 2
    assert abs(right - (20 + 1417)) <= 2
    assert 1141 <= top <= 1146 <= bottom <= 1151
