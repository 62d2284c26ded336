"""PDF in, fax pages out: check the bytes, then render every page with PDFium."""

from __future__ import annotations

import contextlib
import ctypes
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

from faxcast.documents.annotations import draw_bare_annotations
from faxcast.documents.bilevel import GreyPixels, to_bilevel
from faxcast.documents.model import (
    FAX_WIDTH,
    MAX_ROWS,
    FaxDocument,
    FaxPage,
)
from faxcast.domain.document_limits import DocumentLimits
from faxcast.domain.quality import Resolution
from faxcast.errors import DocumentError, DocumentProblem
from faxcast.i18n import codes, size_over_limit

_PDF_MAGIC = b"%PDF-"
_HEADER_WINDOW = 1024
"""Readers accept junk before the header within the first 1024 bytes (PDF 1.7, annex H)."""

# Text without anti-aliasing: its grey edges would only be thresholded away again, and would
# cost every text page the search for grey areas. Paths keep it: a line thinner than a pixel
# comes out grey and dark enough for the threshold to keep, where aliased it breaks into dots.
# No FPDF_GRAYSCALE: drawing into a grey bitmap already turns colours into the same greys, and
# the flag's own conversion of every image costs a scanned page a fifth of its drawing time.
_RENDER_FLAGS = pdfium_c.FPDF_ANNOT | pdfium_c.FPDF_RENDER_NO_SMOOTHTEXT
_POINTS_PER_INCH = 72
_METRES_PER_INCH = 0.0254
_TILE = 512
"""Side of the squares a page is drawn in, in pixels. PDFium strokes a path in a space scaled
alike on both axes by the path's horizontal scale, and clamps that space to +-32000 units
(kMaxPos in its AGG driver): under a matrix that stretches x 26 times more than y, as the ECG
traces of the corpus's letter-vector-chart-nonembedded-fonts.pdf are drawn, every stroke below
row 32000 / 26 = 1230 of the bitmap collapsed, and half the traces vanished. Within a 512 px
tile the stretch may reach 60 before anything is lost."""
_NO_ROTATION = 0
_QUARTER_TURN_LEFT = 3
"""PDFium's code for 90° counter-clockwise: a landscape page's top goes to the left edge, as
PostScript prints landscape, and a /Rotate 90 page returns to its upright MediaBox."""

# PDFium is not thread-safe: one call into it at a time in the whole process.
_PDFIUM_LOCK = threading.Lock()

DEFAULT_LIMITS = DocumentLimits()


def render_pdf(
    data: bytes, resolution: Resolution, *, limits: DocumentLimits = DEFAULT_LIMITS
) -> FaxDocument:
    """Validate a PDF and render each page to a bilevel fax page; raises DocumentError."""
    check_bytes(data, limits)
    with _opened(data) as pdf:
        count = _page_count(pdf, limits)
        pages = []
        for index in range(count):
            number = index + 1
            try:
                grey = _render_page(pdf, index, resolution)
            except DocumentError:
                raise
            except Exception as error:
                raise DocumentError(
                    DocumentProblem.RENDER_FAILED,
                    codes.PAGE_NOT_RENDERED(page=number, detail=str(error)),
                    page=number,
                ) from error
            pages.append(FaxPage(to_bilevel(grey).tobytes(), resolution))
    return FaxDocument(tuple(pages), resolution)


def count_pdf_pages(data: bytes, *, limits: DocumentLimits = DEFAULT_LIMITS) -> int:
    """The checks of render_pdf that need no rendering (for uploads); the page count."""
    check_bytes(data, limits)
    with _opened(data) as pdf:
        return _page_count(pdf, limits)


def _page_count(pdf: pdfium.PdfDocument, limits: DocumentLimits) -> int:
    with _PDFIUM_LOCK:
        count = len(pdf)
    if count == 0:
        raise DocumentError(DocumentProblem.EMPTY, codes.PDF_NO_PAGES())
    if count > limits.max_pages:
        raise DocumentError(
            DocumentProblem.TOO_MANY_PAGES,
            codes.PDF_TOO_MANY_PAGES(count=count, limit=limits.max_pages),
        )
    return count


def check_bytes(data: bytes, limits: DocumentLimits) -> None:
    """Refuse what can be judged without parsing: no bytes, too many, not a PDF."""
    if not data:
        raise DocumentError(DocumentProblem.EMPTY, codes.DOCUMENT_EMPTY())
    if len(data) > limits.max_bytes:
        raise too_large(len(data), limits)
    if not looks_like_pdf(data):
        raise DocumentError(DocumentProblem.NOT_PDF, codes.DOCUMENT_NOT_PDF())


def looks_like_pdf(data: bytes) -> bool:
    """Whether the bytes start as a PDF does, where readers look for its header."""
    return _PDF_MAGIC in data[:_HEADER_WINDOW]


def too_large(size: int, limits: DocumentLimits) -> DocumentError:
    """The refusal of a file of `size` bytes, over the limit: both sizes, precisely."""
    size_mb, limit_mb = size_over_limit(size, limits.max_bytes)
    return DocumentError(
        DocumentProblem.TOO_LARGE, codes.DOCUMENT_TOO_LARGE(size_mb=size_mb, limit_mb=limit_mb)
    )


@contextlib.contextmanager
def _opened(data: bytes) -> Iterator[pdfium.PdfDocument]:
    """The loaded PDF, telling a password-protected file from a broken one; closed on exit."""
    with _PDFIUM_LOCK:
        # The raw call, not PdfDocument(data): pypdfium2 reports a PDF with no pages as a load
        # failure, with whatever error code an earlier failure left behind.
        handle = pdfium_c.FPDF_LoadMemDocument64(data, len(data), None)
        if not handle:
            if pdfium_c.FPDF_GetLastError() == pdfium_c.FPDF_ERR_PASSWORD:
                raise DocumentError(DocumentProblem.ENCRYPTED, codes.PDF_ENCRYPTED())
            raise DocumentError(DocumentProblem.CORRUPT, codes.PDF_CORRUPT())
        pdf = pdfium.PdfDocument(handle)
        # Without a form environment the widgets are still drawn from their appearance
        # streams, so a form that PDFium cannot set up is no reason to refuse the file.
        with contextlib.suppress(pdfium.PdfiumError):
            pdf.init_forms()
    try:
        yield pdf  # PDFium reads `data` in place: this frame keeps it alive until the close
    finally:
        with _PDFIUM_LOCK:
            pdf.close()


def _render_page(pdf: pdfium.PdfDocument, index: int, resolution: Resolution) -> GreyPixels:
    """Render one page in grey, 1728 px wide at the resolution, the page placed in it by
    place_page, landscape turned upright."""
    number = index + 1
    with _PDFIUM_LOCK:
        page = pdf[index]
        try:
            draw_bare_annotations(page.raw)
            width_pt, height_pt = page.get_size()  # the CropBox, after /Rotate
            landscape = width_pt > height_pt
            if landscape:
                width_pt, height_pt = height_pt, width_pt
            if not (width_pt > 0 and height_pt > 0):
                raise DocumentError(
                    DocumentProblem.RENDER_FAILED, codes.PAGE_NO_AREA(page=number), page=number
                )
            placed = place_page(width_pt, height_pt, resolution)
            if placed.rows > MAX_ROWS:
                _, vertical_dpi = resolution.dpi
                limit_m = MAX_ROWS / vertical_dpi * _METRES_PER_INCH
                length_m = placed.rows / vertical_dpi * _METRES_PER_INCH
                raise DocumentError(
                    DocumentProblem.RENDER_FAILED,
                    codes.PAGE_TOO_LONG(page=number, length_m=length_m, limit_m=limit_m),
                    page=number,
                )
            grey = np.full((placed.rows, FAX_WIDTH), 255, dtype=np.uint8)
            rotate = _QUARTER_TURN_LEFT if landscape else _NO_ROTATION
            _draw(pdf, page, grey[:, placed.left : placed.left + placed.width], rotate)
        finally:
            page.close()
    return grey


@dataclass(frozen=True)
class Placement:
    """Where a page goes on the fax: its width in pixels, centred, and its length in rows."""

    left: int
    width: int
    rows: int


def place_page(width_pt: float, height_pt: float, resolution: Resolution) -> Placement:
    """A page of this upright size at its true size, centred in the scan line; a page wider
    than the scan line (US Letter by 0.9 mm, A3) scaled down to fit it, keeping its shape."""
    horizontal_dpi, vertical_dpi = resolution.dpi
    true_width = width_pt / _POINTS_PER_INCH * horizontal_dpi
    scale = min(1.0, FAX_WIDTH / true_width)
    width = max(1, min(FAX_WIDTH, round(true_width * scale)))
    rows = max(1, round(height_pt / _POINTS_PER_INCH * vertical_dpi * scale))
    return Placement((FAX_WIDTH - width) // 2, width, rows)


def _draw(pdf: pdfium.PdfDocument, page: pdfium.PdfPage, grey: GreyPixels, rotate: int) -> None:
    """Draw the page and its form fields into `grey` (a view of whole rows or part of them),
    stretched to fill it exactly, one tile at a time (see _TILE)."""
    rows, width = grey.shape
    stride = grey.strides[0]
    for top in range(0, rows, _TILE):
        for left in range(0, width, _TILE):
            tile = grey[top : top + _TILE, left : left + _TILE]
            tile_rows, tile_width = tile.shape
            # A bitmap over our own buffer: PDFium draws straight into the array, no copy.
            bitmap = pdfium_c.FPDFBitmap_CreateEx(
                tile_width,
                tile_rows,
                pdfium_c.FPDFBitmap_Gray,
                tile.ctypes.data_as(ctypes.c_void_p),
                stride,
            )
            if not bitmap:
                raise MemoryError(f"PDFium could not make a {tile_width} x {tile_rows} bitmap")
            try:
                args = (bitmap, page, -left, -top, width, rows, rotate, _RENDER_FLAGS)
                pdfium_c.FPDF_RenderPageBitmap(*args)
                if pdf.formenv:
                    pdfium_c.FPDF_FFLDraw(pdf.formenv, *args)
            finally:
                pdfium_c.FPDFBitmap_Destroy(bitmap)
