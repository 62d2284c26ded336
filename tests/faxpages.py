"""Comparing what a fax machine received with what was sent, pixel by pixel."""

from __future__ import annotations

from PIL import ImageChops

from faxcast.documents import FaxDocument


def assert_identical(sent: FaxDocument, received: FaxDocument) -> None:
    """Same pages, sizes and pixels: nothing added (the header is drawn into the page)."""
    assert len(received.pages) == len(sent.pages)
    assert received.resolution is sent.resolution
    for number, (ours, theirs) in enumerate(zip(sent.pages, received.pages, strict=True), 1):
        assert theirs.image.size == ours.image.size, f"page {number} size"
        diff = ImageChops.difference(ours.image.convert("L"), theirs.image.convert("L")).getbbox()
        assert diff is None, f"page {number} differs in {diff}"
