"""TIFF Class F: write fax pages for SpanDSP, and check a TIFF-F fully before it is sent."""

from __future__ import annotations

import io
import struct

from PIL import Image, ImageChops, TiffImagePlugin

from faxcast.documents.model import FAX_WIDTH, MAX_ROWS, FaxDocument, FaxPage
from faxcast.domain.quality import Resolution
from faxcast.errors import DocumentError, DocumentProblem

# Tag numbers as TIFF 6.0 names them.
NEW_SUBFILE_TYPE = 254
BITS_PER_SAMPLE = 258
PHOTOMETRIC_INTERPRETATION = 262
X_RESOLUTION = 282
Y_RESOLUTION = 283
RESOLUTION_UNIT = 296
SOFTWARE = 305

FILETYPE_PAGE = 2
PHOTOMETRIC_MINISWHITE = 0
RESUNIT_NONE, RESUNIT_INCH, RESUNIT_CENTIMETER = 1, 2, 3

_TIFF_SHORT = 3
_ONE_STRIP = FAX_WIDTH // 8 * MAX_ROWS
"""Pillow's strip size (raw bytes) that holds any page: one strip per page, as TIFF-F advises,
so a page's strip is its whole T.6 stream."""
_CM_PER_INCH = 2.54
_DPI_TOLERANCE = 1.5
"""Resolutions are often rounded (203 for 204, 97 or 195) or stored per cm and converted back."""


def write_tiff_f(document: FaxDocument) -> bytes:
    """Encode the pages as one multi-page TIFF-F: CCITT G4, MinIsWhite, one IFD per page."""
    # Fax coding counts 0 bits as white paper (MinIsWhite). Pillow writes mode "1" as
    # MinIsBlack and inverts MinIsWhite pixel by pixel in Python, far too slowly; so we hand it
    # negatives and relabel the photometric tag afterwards, which gives the same file.
    negatives = [_negative(page.image) for page in document.pages]
    buffer = io.BytesIO()
    negatives[0].save(
        buffer,
        format="TIFF",
        save_all=True,
        append_images=negatives[1:],
        compression="group4",
        strip_size=_ONE_STRIP,
        dpi=document.resolution.dpi,
        tiffinfo={NEW_SUBFILE_TYPE: FILETYPE_PAGE, SOFTWARE: "faxcast"},
    )
    data = bytearray(buffer.getvalue())
    _set_photometric(data, PHOTOMETRIC_MINISWHITE)
    return bytes(data)


def read_tiff_f(data: bytes) -> FaxDocument:
    """Decode every page of a TIFF-F and check what SpanDSP would send wrong or silently cut."""
    try:
        image = Image.open(io.BytesIO(data), formats=["TIFF"])
    except Exception as error:
        raise _bad("the file is not a TIFF image", 1) from error
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
                raise _bad(f"page {number} is missing or cut short", number) from error
            try:
                pages.append(_read_page(image, number))
            except DocumentError:
                raise
            except Exception as error:
                raise _bad(f"page {number} cannot be read ({error})", number) from error
    resolution = pages[0].resolution
    for number, page in enumerate(pages, start=1):
        if page.resolution is not resolution:
            raise _bad(
                f"page {number} is at {page.resolution.value} resolution and page 1 at "
                f"{resolution.value}; a fax has one resolution",
                number,
            )
    return FaxDocument(tuple(pages), resolution)


def _read_page(image: Image.Image, number: int) -> FaxPage:
    """Check the current frame's tags, then decode all of it."""
    if not isinstance(image, TiffImagePlugin.TiffImageFile):
        raise _bad("not a TIFF file", number)
    tags = image.tag_v2
    bits = tags.get(BITS_PER_SAMPLE, 1)
    if image.mode != "1" or bits not in (1, (1,)):
        raise _bad(
            f"page {number} is not bilevel (mode {image.mode}, {bits} bits per pixel)",
            number,
        )
    if image.width != FAX_WIDTH:
        raise _bad(f"page {number} is {image.width} px wide, not {FAX_WIDTH}", number)
    if image.height > MAX_ROWS:
        raise _bad(f"page {number} is {image.height} rows long, over {MAX_ROWS}", number)
    resolution = _resolution(tags, number)
    try:
        image.load()  # all the strips: cut or garbled G4 data ("Bad code word") fails here
    except Exception as error:
        raise _bad(f"page {number} cannot be decoded ({error})", number) from error
    return FaxPage(image.copy(), resolution)


def _resolution(tags: TiffImagePlugin.ImageFileDirectory_v2, number: int) -> Resolution:
    """The T.4 resolution the page is tagged with, in dpi whatever the unit."""
    unit = tags.get(RESOLUTION_UNIT, RESUNIT_INCH)
    if X_RESOLUTION not in tags or Y_RESOLUTION not in tags or unit == RESUNIT_NONE:
        raise _bad(f"page {number} has no resolution in dpi", number)
    scale = _CM_PER_INCH if unit == RESUNIT_CENTIMETER else 1.0
    x_dpi = float(tags[X_RESOLUTION]) * scale
    y_dpi = float(tags[Y_RESOLUTION]) * scale
    for resolution in Resolution:
        want_x, want_y = resolution.dpi
        if abs(x_dpi - want_x) <= _DPI_TOLERANCE and abs(y_dpi - want_y) <= _DPI_TOLERANCE:
            return resolution
    raise _bad(
        f"page {number} is at {x_dpi:.0f} x {y_dpi:.0f} dpi, "
        "not 204 x 98 (standard) or 204 x 196 (fine)",
        number,
    )


def _negative(image: Image.Image) -> Image.Image:
    # logical_xor reads any non-zero as white; invert() would not for pixels stored as 1.
    return ImageChops.logical_xor(image, Image.new("1", image.size, 1))


def _set_photometric(data: bytearray, value: int) -> None:
    """Rewrite PhotometricInterpretation in every IFD of a classic TIFF, in place."""
    order = "<" if data[:2] == b"II" else ">"
    (offset,) = struct.unpack_from(order + "I", data, 4)
    while offset:
        (count,) = struct.unpack_from(order + "H", data, offset)
        for entry in range(offset + 2, offset + 2 + 12 * count, 12):
            tag, kind = struct.unpack_from(order + "HH", data, entry)
            if tag == PHOTOMETRIC_INTERPRETATION and kind == _TIFF_SHORT:
                struct.pack_into(order + "H", data, entry + 8, value)
        (offset,) = struct.unpack_from(order + "I", data, offset + 2 + 12 * count)


def _bad(message: str, page: int) -> DocumentError:
    return DocumentError(DocumentProblem.BAD_TIFF, message, page=page)
