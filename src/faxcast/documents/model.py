"""Fax pages as values: a document is bilevel pages, 1728 px wide, at one T.4 resolution."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
from PIL import Image

from faxcast.domain.quality import Resolution

FAX_WIDTH = 1728
"""Pixels per row of an ISO A4 / US Letter fax page at 204 dpi (T.4 "standard" width)."""

ROW_BYTES = FAX_WIDTH // 8
"""Bytes per row of a page, packed one bit per pixel."""

MAX_ROWS = 20_000
"""Longest page we send or accept (about 2.6 m at fine): a guard against memory bombs."""


@dataclass(frozen=True)
class FaxPage:
    """One page as sent: rows 1728 px wide, one bit per pixel, at a T.4 resolution."""

    ink: bytes = field(repr=False)
    """The rows, ROW_BYTES each, leftmost pixel in the top bit, 1 for black: what a G4
    (MinIsWhite) encoder takes as is."""
    resolution: Resolution

    def __post_init__(self) -> None:
        if not self.ink or len(self.ink) % ROW_BYTES:
            raise ValueError(
                f"a fax page is whole rows of {ROW_BYTES} bytes ({FAX_WIDTH} px), "
                f"not {len(self.ink)} bytes"
            )

    @classmethod
    def from_image(cls, image: Image.Image, resolution: Resolution) -> FaxPage:
        """The page showing a mode "1" image exactly 1728 px wide."""
        if image.mode != "1" or image.width != FAX_WIDTH:
            raise ValueError(
                f"a fax page is a mode 1 image {FAX_WIDTH} px wide, "
                f"not mode {image.mode} {image.width} px wide"
            )
        # numpy packs several times faster than Pillow's own "1;I" packer.
        return cls(np.packbits(~np.asarray(image), axis=1).tobytes(), resolution)

    @property
    def rows(self) -> int:
        """The page's length in rows (pixels)."""
        return len(self.ink) // ROW_BYTES

    @cached_property
    def image(self) -> Image.Image:
        """The page as a mode "1" image (white is 1), made on first use."""
        return Image.frombytes("1", (FAX_WIDTH, self.rows), self.ink, "raw", "1;I")


@dataclass(frozen=True)
class FaxDocument:
    """The pages of one fax, all at the document's resolution."""

    pages: tuple[FaxPage, ...]
    resolution: Resolution

    def __post_init__(self) -> None:
        if not self.pages:
            raise ValueError("a fax document has at least one page")
        if any(page.resolution is not self.resolution for page in self.pages):
            raise ValueError("every page of a fax document has the document's resolution")
