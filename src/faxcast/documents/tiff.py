"""TIFF Class F: write fax pages for SpanDSP, and check a TIFF-F fully before it is sent."""

from __future__ import annotations

import io

from PIL import Image, TiffImagePlugin

from faxcast.documents._tiffg4 import ffi, lib
from faxcast.documents.model import FAX_WIDTH, MAX_ROWS, FaxDocument, FaxPage
from faxcast.domain.quality import Resolution
from faxcast.errors import DocumentError, DocumentProblem
from faxcast.i18n import Message, codes

# Tag numbers as TIFF 6.0 names them.
BITS_PER_SAMPLE = 258
X_RESOLUTION = 282
Y_RESOLUTION = 283
RESOLUTION_UNIT = 296

RESUNIT_NONE, RESUNIT_INCH, RESUNIT_CENTIMETER = 1, 2, 3

_MESSAGE_BYTES = 256
_CM_PER_INCH = 2.54
_DPI_TOLERANCE = 1.5
"""Resolutions are often rounded (203 for 204, 97 or 195) or stored per cm and converted back."""


def write_tiff_f(document: FaxDocument) -> bytes:
    """Encode the pages as one multi-page TIFF-F: CCITT G4, MinIsWhite, one IFD per page."""
    pages = document.pages
    ink = [ffi.from_buffer("uint8_t[]", page.ink) for page in pages]
    rows = [page.rows for page in pages]
    out = ffi.new("uint8_t **")
    size = ffi.new("size_t *")
    message = ffi.new("char[]", _MESSAGE_BYTES)
    x_dpi, y_dpi = document.resolution.dpi
    failed = lib.faxcast_g4_write(
        len(pages), ink, rows, FAX_WIDTH, x_dpi, y_dpi, out, size, message, _MESSAGE_BYTES
    )
    if failed:
        detail = ffi.string(message).decode("ascii", "replace")
        raise DocumentError(DocumentProblem.RENDER_FAILED, codes.TIFF_NOT_WRITTEN(detail=detail))
    try:
        return bytes(ffi.buffer(out[0], size[0]))
    finally:
        lib.faxcast_g4_free(out[0])


def read_tiff_f(data: bytes) -> FaxDocument:
    """Decode every page of a TIFF-F and check what SpanDSP would send wrong or silently cut."""
    try:
        image = Image.open(io.BytesIO(data), formats=["TIFF"])
    except Exception as error:
        raise _bad(codes.TIFF_NOT_TIFF(), 1) from error
    pages: list[FaxPage] = []
    with image:
        while True:
            number = len(pages) + 1
            try:
                if number > 1:
                    image.seek(number - 1)
            except EOFError:
                break  # the last IFD says there is no next one
            except Exception as error:
                raise _bad(codes.TIFF_PAGE_MISSING(page=number), number) from error
            try:
                pages.append(_read_page(image, number))
            except DocumentError:
                raise
            except Exception as error:
                raise _bad(
                    codes.TIFF_PAGE_UNREADABLE(page=number, detail=str(error)), number
                ) from error
    resolution = pages[0].resolution
    for number, page in enumerate(pages, start=1):
        if page.resolution is not resolution:
            raise _bad(
                codes.TIFF_MIXED_RESOLUTIONS(
                    page=number, resolution=page.resolution.value, first=resolution.value
                ),
                number,
            )
    return FaxDocument(tuple(pages), resolution)


def _read_page(image: Image.Image, number: int) -> FaxPage:
    """Check the current frame's tags, then decode all of it."""
    if not isinstance(image, TiffImagePlugin.TiffImageFile):
        raise _bad(codes.TIFF_PAGE_NOT_TIFF(), number)
    tags = image.tag_v2
    bits = tags.get(BITS_PER_SAMPLE, 1)
    if image.mode != "1" or bits not in (1, (1,)):
        raise _bad(codes.TIFF_NOT_BILEVEL(page=number, mode=image.mode, bits=str(bits)), number)
    if image.width != FAX_WIDTH:
        raise _bad(
            codes.TIFF_WRONG_WIDTH(page=number, width=image.width, expected=FAX_WIDTH), number
        )
    if image.height > MAX_ROWS:
        raise _bad(codes.TIFF_TOO_LONG(page=number, rows=image.height, limit=MAX_ROWS), number)
    resolution = _resolution(tags, number)
    try:
        image.load()  # all the strips: cut or garbled G4 data ("Bad code word") fails here
    except Exception as error:
        raise _bad(codes.TIFF_NOT_DECODED(page=number, detail=str(error)), number) from error
    return FaxPage.from_image(image, resolution)


def _resolution(tags: TiffImagePlugin.ImageFileDirectory_v2, number: int) -> Resolution:
    """The T.4 resolution the page is tagged with, in dpi whatever the unit."""
    unit = tags.get(RESOLUTION_UNIT, RESUNIT_INCH)
    if X_RESOLUTION not in tags or Y_RESOLUTION not in tags or unit == RESUNIT_NONE:
        raise _bad(codes.TIFF_NO_DPI(page=number), number)
    scale = _CM_PER_INCH if unit == RESUNIT_CENTIMETER else 1.0
    x_dpi = float(tags[X_RESOLUTION]) * scale
    y_dpi = float(tags[Y_RESOLUTION]) * scale
    for resolution in Resolution:
        want_x, want_y = resolution.dpi
        if abs(x_dpi - want_x) <= _DPI_TOLERANCE and abs(y_dpi - want_y) <= _DPI_TOLERANCE:
            return resolution
    raise _bad(codes.TIFF_WRONG_DPI(page=number, x_dpi=x_dpi, y_dpi=y_dpi), number)


def _bad(message: Message, page: int) -> DocumentError:
    return DocumentError(DocumentProblem.BAD_TIFF, message, page=page)
