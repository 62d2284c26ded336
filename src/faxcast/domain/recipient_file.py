"""A recipients file (the seed's .txt) as text: its encoding found, documents refused."""

from __future__ import annotations

import codecs
from typing import Final

from faxcast.errors import InputError
from faxcast.fields import Field
from faxcast.i18n import Message, codes


def decode_recipient_file(data: bytes) -> str:
    """The text of a recipients file: UTF-8 (BOM or not), UTF-16 with a BOM, else Latin-1."""
    kind = binary_kind(data)
    if kind is not None:
        raise InputError(codes.FILE_IS_DOCUMENT(kind=kind), field=Field.RECIPIENTS_FILE)
    text = _decode(data)
    if "\0" in text:
        raise InputError(codes.FILE_HAS_NUL(), field=Field.RECIPIENTS_FILE)
    # Counted without a list of every match (a binary file has millions): what deleting them
    # removes.
    controls = len(text) - len(text.translate(_CONTROLS))
    # Text files have no control characters beyond a stray one; binary files decoded as Latin-1
    # have about one in four.
    if controls * 10 > len(text):
        raise InputError(
            codes.FILE_HAS_CONTROLS(count=controls, total=len(text)), field=Field.RECIPIENTS_FILE
        )
    return text


def binary_kind(data: bytes) -> Message | None:
    """What a file that is no text is ("a PNG image"), told by its first bytes; else None."""
    for magic, kind in _NOT_TEXT:
        if data.startswith(magic):
            return kind()
    return None


# The files people save by mistake instead of a list or a PDF: documents, scans and photos.
_NOT_TEXT: Final = (
    (b"%PDF-", codes.KIND_PDF),
    (b"PK\x03\x04", codes.KIND_ZIP),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", codes.KIND_OLE),
    (b"{\\rtf", codes.KIND_RTF),
    (b"\x89PNG\r\n\x1a\n", codes.KIND_PNG),
    (b"\xff\xd8\xff", codes.KIND_JPEG),
    (b"GIF87a", codes.KIND_GIF),
    (b"GIF89a", codes.KIND_GIF),
    (b"II*\x00", codes.KIND_TIFF),
    (b"MM\x00*", codes.KIND_TIFF),
)
_CONTROLS: Final = dict.fromkeys([*range(0x00, 0x09), *range(0x0E, 0x20), *range(0x7F, 0xA0)])


def _decode(data: bytes) -> str:
    if data.startswith(codecs.BOM_UTF8):
        encoding, name = "utf-8-sig", "UTF-8"
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        # Windows Notepad's "Unicode": not in the seed, but common and unambiguous with its mark.
        encoding, name = "utf-16", "UTF-16"
    else:
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            # Windows-1252 is what "Latin-1" means on the machines that write these files; true
            # Latin-1 takes the five bytes it leaves undefined.
            try:
                return data.decode("cp1252")
            except UnicodeDecodeError:
                return data.decode("latin-1")
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as error:
        raise InputError(
            codes.FILE_BAD_ENCODING(encoding=name, offset=error.start),
            field=Field.RECIPIENTS_FILE,
        ) from None
