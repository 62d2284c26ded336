"""PDF in, fax pages out: check the bytes, then render every page with PDFium."""

from __future__ import annotations

import contextlib
import ctypes
import threading
from collections.abc import Iterator

import numpy as np
import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

from faxcast.documents.bilevel import GreyPixels, to_bilevel
from faxcast.documents.model import (
    FAX_WIDTH,
    MAX_ROWS,
    DocumentLimits,
    FaxDocument,
    FaxPage,
)
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
    """Render one page in grey, 1728 px wide at the resolution, landscape turned upright."""
    number = index + 1
    with _PDFIUM_LOCK:
        page = pdf[index]
        try:
            width_pt, height_pt = page.get_size()  # the CropBox, after /Rotate
            landscape = width_pt > height_pt
            if landscape:
                width_pt, height_pt = height_pt, width_pt
            if not (width_pt > 0 and height_pt > 0):
                raise DocumentError(
                    DocumentProblem.RENDER_FAILED, codes.PAGE_NO_AREA(page=number), page=number
                )
            horizontal_dpi, vertical_dpi = resolution.dpi
            # Horizontal and vertical scales differ at standard resolution (204 x 98 dpi).
            rows = round(FAX_WIDTH * height_pt / width_pt * vertical_dpi / horizontal_dpi)
            if rows > MAX_ROWS:
                raise DocumentError(
                    DocumentProblem.RENDER_FAILED,
                    codes.PAGE_TOO_LONG(page=number, ratio=height_pt / width_pt),
                    page=number,
                )
            grey = np.full((max(rows, 1), FAX_WIDTH), 255, dtype=np.uint8)
            _draw(pdf, page, grey, _QUARTER_TURN_LEFT if landscape else _NO_ROTATION)
        finally:
            page.close()
    return grey


def _draw(pdf: pdfium.PdfDocument, page: pdfium.PdfPage, grey: GreyPixels, rotate: int) -> None:
    """Draw the page and its form fields into `grey`, stretched to fill it exactly."""
    rows, width = grey.shape
    # A bitmap over our own buffer: PDFium draws straight into the array, no copy.
    bitmap = pdfium_c.FPDFBitmap_CreateEx(
        width, rows, pdfium_c.FPDFBitmap_Gray, grey.ctypes.data_as(ctypes.c_void_p), width
    )
    if not bitmap:
        raise MemoryError(f"PDFium could not make a {width} x {rows} bitmap")
    try:
        args = (bitmap, page, 0, 0, width, rows, rotate, _RENDER_FLAGS)
        pdfium_c.FPDF_RenderPageBitmap(*args)
        if pdf.formenv:
            pdfium_c.FPDF_FFLDraw(pdf.formenv, *args)
    finally:
        pdfium_c.FPDFBitmap_Destroy(bitmap)
