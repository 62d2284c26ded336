"""PNG previews of fax pages, shaped as the recipient's machine prints them."""

from __future__ import annotations

import io

from PIL import Image

from faxcast.documents.model import FaxPage
from faxcast.domain.quality import Resolution


def preview_png(page: FaxPage, *, width: int | None = None) -> bytes:
    """PNG with square pixels (standard rows doubled), scaled down to `width` when given."""
    if width is not None and width < 1:
        raise ValueError(f"a preview is at least 1 px wide, not {width}")
    image = page.image
    if page.resolution is Resolution.STANDARD:
        # 98 rows per inch against 204 columns: each row prints as two.
        image = image.resize((image.width, image.height * 2), Image.Resampling.NEAREST)
    if width is not None and width < image.width:
        height = max(1, round(image.height * width / image.width))
        # Averaging in grey keeps thin strokes and dither visible once scaled down.
        image = image.convert("L").resize((width, height), Image.Resampling.BOX)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()
