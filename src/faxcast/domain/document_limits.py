"""What a PDF may weigh and hold: the documents layer's limits, light enough for the settings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

MB: Final = 1024 * 1024


@dataclass(frozen=True)
class DocumentLimits:
    """What a PDF may weigh and hold before it is refused."""

    max_pages: int = 50
    max_bytes: int = 20 * MB
    # What rendering one PDF may take (documents/isolated.py): address space beyond the
    # renderer's own, and wall-clock time.
    render_memory_bytes: int = 1024 * MB
    render_timeout_s: float = 60.0
    # How many PDFs render at once, each in its own child process with the limits above.
    render_children: int = 2
