"""Fax pages as values: a document is bilevel pages, 1728 px wide, at one T.4 resolution."""

from __future__ import annotations

from dataclasses import dataclass

from PIL import Image

from faxcast.domain.quality import Resolution

FAX_WIDTH = 1728
"""Pixels per row of an ISO A4 / US Letter fax page at 204 dpi (T.4 "standard" width)."""

MAX_ROWS = 20_000
"""Longest page we send or accept (about 2.6 m at fine): a guard against memory bombs."""

MB = 1024 * 1024


@dataclass(frozen=True)
class DocumentLimits:
    """What a PDF may weigh and hold before it is refused."""

    max_pages: int = 50
    max_bytes: int = 20 * MB


@dataclass(frozen=True)
class FaxPage:
    """One page as sent: a mode "1" image exactly 1728 px wide at a T.4 resolution."""

    image: Image.Image
    resolution: Resolution

    def __post_init__(self) -> None:
        if self.image.mode != "1" or self.image.width != FAX_WIDTH:
            raise ValueError(
                f"a fax page is a mode 1 image {FAX_WIDTH} px wide, "
                f"not mode {self.image.mode} {self.image.width} px wide"
            )


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
