"""What each page of a fax weighs on the line: its bits in the largest coding a call may use."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from faxcast.documents.model import FAX_WIDTH, FaxDocument, FaxPage
from faxcast.documents.tiff import write_tiff_f

# Code lengths of T.4's modified Huffman (1-D) coding, tables 2 and 3: terminating codes for
# runs of 0 to 63 pixels, make-up codes for 64, 128, ... 1728.
_WHITE_TERMINATING = [
    8,
    6,
    4,
    4,
    4,
    4,
    4,
    4,
    5,
    5,
    5,
    5,
    6,
    6,
    6,
    6,
    6,
    6,
    7,
    7,
    7,
    7,
    7,
    7,
    7,
    7,
    7,
    7,
    7,
] + [8] * 35
_BLACK_TERMINATING = [
    10,
    3,
    2,
    2,
    3,
    4,
    4,
    5,
    6,
    6,
    7,
    7,
    7,
    8,
    8,
    9,
    10,
    10,
    10,
    11,
    11,
    11,
    11,
    11,
    11,
    11,
] + [12] * 38
_WHITE_MAKE_UP = [0, 5, 5, 6, 7, 8, 8, 8, 8, 8, 8] + [9] * 15 + [6, 9]
_BLACK_MAKE_UP = [0, 10] + [12] * 6 + [13] * 20
_TERMINATING = np.array([_WHITE_TERMINATING, _BLACK_TERMINATING], dtype=np.int64)
_MAKE_UP = np.array([_WHITE_MAKE_UP, _BLACK_MAKE_UP], dtype=np.int64)
_EOL_BITS = 12
_RTC_BITS = 6 * _EOL_BITS


def line_bits(document: FaxDocument) -> tuple[int, ...]:
    """Per page, the most bits it may take on the line, in whichever coding the call uses.

    That is T.6 with ECM, T.4 2-D or 1-D without: the more of T.6 and T.4 1-D, plus an EOL and
    its tag bit a row, bounds T.4 2-D, whose rows are coded either as T.6 codes them (against
    the row above) or as 1-D, each after an EOL.
    """
    return tuple(
        max(mh_bits(page), t6_bits(page)) + page.rows * (_EOL_BITS + 1) for page in document.pages
    )


def t6_bits(page: FaxPage) -> int:
    """The page's bits as T.6 (G4), as sent with ECM: its one-page TIFF-F, header included."""
    return len(write_tiff_f(FaxDocument((page,), page.resolution))) * 8


def mh_bits(page: FaxPage) -> int:
    """The page's bits as T.4 1-D: every row's run codes after its EOL, and the page's RTC."""
    ink = np.unpackbits(np.frombuffer(page.ink, dtype=np.uint8)).reshape(page.rows, FAX_WIDTH)
    return _run_code_bits(ink) + page.rows * _EOL_BITS + _RTC_BITS


def _run_code_bits(ink: npt.NDArray[np.uint8]) -> int:
    """The bits of every row's alternating white and black runs, each row starting white."""
    rows = ink.shape[0]
    # A run ends where a pixel differs from the one before it, the first pixel compared with
    # white (a row starting black begins with a white run of length 0, as T.4 codes it), and
    # at the row's end: one more column, always a change. In row order, as nonzero gives them.
    bounds = np.ones((rows, FAX_WIDTH + 1), dtype=bool)
    bounds[:, 0] = ink[:, 0] != 0
    np.not_equal(ink[:, 1:], ink[:, :-1], out=bounds[:, 1:FAX_WIDTH])
    bound_rows, bound_columns = np.nonzero(bounds)
    # Runs end at each bound: from the row's start, then from the bound before in the row.
    first = np.ones(bound_rows.size, dtype=bool)
    first[1:] = bound_rows[1:] != bound_rows[:-1]
    starts = np.where(first, 0, np.roll(bound_columns, 1))
    lengths = bound_columns - starts
    # The k-th run of a row is white for even k.
    row_start = np.flatnonzero(first)
    counts = np.diff(np.append(row_start, bound_rows.size))
    colour = (np.arange(bound_rows.size) - np.repeat(row_start, counts)) % 2
    bits = _TERMINATING[colour, lengths % 64] + _MAKE_UP[colour, lengths // 64]
    return int(bits.sum())
