"""Comparing what a fax machine received with what was sent, pixel by pixel."""

from __future__ import annotations

from PIL import ImageChops

from faxcast.documents import FaxDocument


def assert_identical(sent: FaxDocument, received: FaxDocument, header_rows: int = 0) -> None:
    """Same pages, sizes and pixels, below the `header_rows` the sender's header line adds."""
    assert len(received.pages) == len(sent.pages)
    assert received.resolution is sent.resolution
    for number, (ours, theirs) in enumerate(zip(sent.pages, received.pages, strict=True), 1):
        width, height = ours.image.size
        assert theirs.image.size == (width, height + header_rows), f"page {number} size"
        body = theirs.image.crop((0, header_rows, width, height + header_rows))
        diff = ImageChops.difference(ours.image.convert("L"), body.convert("L")).getbbox()
        assert diff is None, f"page {number} differs in {diff}"
