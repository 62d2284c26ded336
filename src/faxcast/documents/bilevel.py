"""Grey to bilevel: text and line art thresholded, grey areas (photos, shadings) halftoned."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageFilter

GreyPixels = npt.NDArray[np.uint8]
"""Rows of 8-bit grey, 0 black to 255 white."""

PackedInk = npt.NDArray[np.uint8]
"""Bilevel rows packed 8 pixels to a byte, leftmost in the top bit, 1 for black (MinIsWhite)."""

INK_LEVEL = 160
"""Grey levels below this print black outside grey areas; above mid-grey so that coloured and
grey text keep their strokes instead of vanishing."""

MID_LOW, MID_HIGH = 48, 208
"""Mid-tones: what a plain threshold would wrongly turn into solid black or white."""

TONE_LOW, TONE_HIGH = 8, 247
"""Anything but paper white and solid black: the highlights and shadows of a photo."""

BLOCK = 16
"""Side of the square (in pixels) judged grey area or not: 2 mm at 204 dpi, wider than a stroke."""

_GRID = 4
_MIN_MID_POINTS = 16
"""Fewer mid-tone points than this on the grid (a few stray edges) and the page is simply
thresholded: a grey area, one block or more, would show 16 at least."""

SCREEN_PERIOD = 4
"""Dots of the halftone screen lie on 45-degree lines, SCREEN_PERIOD * sqrt(2) pixels apart (36
lines per inch at 204 dpi), two dots to a tile of 8 by 8: 65 grey levels. Clustered dots make long
runs that T.4 and T.6 code in few bits, where an error-diffusion dither's scattered dots cost about
three times more line time (bench/render.py); it is also the kind of screen fax software uses."""

STROKE_CONTRAST = 48
"""In a grey area, a pixel this much darker than its surroundings prints black (this much lighter,
white) whatever the screen says: text and lines drawn over a tint stay whole."""
_SURROUND_RADIUS = 3  # a 7 x 7 pixel box: wider than a text stroke, narrower than a letter

_MID_LUT = [255 if MID_LOW <= level <= MID_HIGH else 0 for level in range(256)]
_TONE_LUT = [255 if TONE_LOW <= level <= TONE_HIGH else 0 for level in range(256)]
_HALF = 128
_THREE_QUARTERS = 192
_STEP = 2


def to_bilevel(grey: GreyPixels) -> PackedInk:
    """Pack grey rows into ink bits: crisp ink, a clustered-dot halftone in grey areas."""
    if grey.ndim != 2 or grey.dtype != np.uint8:
        raise ValueError(f"expected 2-D uint8 grey pixels, got {grey.ndim}-D {grey.dtype}")
    ink = grey < INK_LEVEL
    # A grey area is at least a block wide, so a sparse grid of pixels is enough to rule out
    # any; pages of text and line art, the common case, stop here.
    grid = grey[::_GRID, ::_GRID]
    if np.count_nonzero(grid <= MID_HIGH) - np.count_nonzero(grid < MID_LOW) < _MIN_MID_POINTS:
        return np.packbits(ink, axis=1)
    blocks = grey_area_blocks(grey)
    block_rows, block_columns = np.nonzero(blocks)
    if block_rows.size:
        # Screen only the bounding box, the screen laid from the page's corner: every grey
        # area of the page shares one grid of dots.
        top, bottom = block_rows.min(), block_rows.max() + 1
        left, right = block_columns.min(), block_columns.max() + 1
        pixels = (
            slice(top * BLOCK, min(bottom * BLOCK, grey.shape[0])),
            slice(left * BLOCK, min(right * BLOCK, grey.shape[1])),
        )
        box = np.ascontiguousarray(grey[pixels])
        area = _pixels_of(blocks[top:bottom, left:right], box.shape)
        ink[pixels][area] = _screened(box, top * BLOCK, left * BLOCK)[area]
    return np.packbits(ink, axis=1)


def _screened(box: GreyPixels, top: int, left: int) -> npt.NDArray[np.bool_]:
    """Ink of a grey box whose corner is at (top, left) on the page, by the page's screen."""
    side = _SCREEN.shape[0]
    tile = np.roll(_SCREEN, (-(top % side), -(left % side)), axis=(0, 1))
    rows, columns = box.shape
    thresholds = np.tile(tile, (-(-rows // side), -(-columns // side)))[:rows, :columns]
    ink: npt.NDArray[np.bool_] = box < thresholds
    # Strokes over a tint override the screen; uint8 bounds clipped rather than widened.
    surround = np.asarray(Image.fromarray(box).filter(ImageFilter.BoxBlur(_SURROUND_RADIUS)))
    ink |= box < np.maximum(surround, STROKE_CONTRAST) - STROKE_CONTRAST
    ink &= box <= np.minimum(surround, 255 - STROKE_CONTRAST) + STROKE_CONTRAST
    return ink


def _clustered_dot_screen(period: int) -> GreyPixels:
    """The threshold tile of a 45-degree clustered-dot screen, two dots in 2*period squared."""
    side = 2 * period
    y, x = np.mgrid[0:side, 0:side] + 0.5
    # Ranked by the spot function: as the grey darkens, black dots grow from its peaks (two per
    # tile, on a 45-degree lattice) until only white holes at its troughs are left.
    spot = np.cos(np.pi * x / period) * np.cos(np.pi * y / period)
    rank = np.argsort(np.argsort(spot, axis=None, kind="stable"), kind="stable")
    return (rank.reshape(side, side) * 256 // rank.size + 128 // rank.size).astype(np.uint8)


_SCREEN = _clustered_dot_screen(SCREEN_PERIOD)


def grey_area_blocks(grey: GreyPixels) -> npt.NDArray[np.bool_]:
    """One flag per BLOCK x BLOCK square of the page: part of a photo, shading or tint."""
    # A block seeds a grey area when over half of it is mid-tone: text edges and hairlines
    # never fill half a 2 mm block, a photo or a grey fill does. The area then spreads over
    # touching blocks that are three quarters tone, so a photo's highlights and shadows are
    # dithered with it instead of ending in a staircase of blocks cut to white or black;
    # scanned text, with paper between its strokes, stays out. Counting every other pixel of
    # every other row gives the same shares at a quarter of the cost.
    sample = Image.fromarray(np.ascontiguousarray(grey[::_STEP, ::_STEP]))
    seeds = _blocks_over(sample, _MID_LUT, _HALF)
    tone = _blocks_over(sample, _TONE_LUT, _THREE_QUARTERS)
    area = seeds
    while True:
        grown = seeds | (_grow(area) & tone)
        if np.array_equal(grown, area):
            break
        area = grown
    # One block more, so a photo's edge is dithered too; paper white and solid black come out
    # of the dither all but unchanged, so the margin costs nothing.
    return _grow(area)


def _pixels_of(blocks: npt.NDArray[np.bool_], shape: tuple[int, ...]) -> npt.NDArray[np.bool_]:
    """Blocks spread to the pixels they cover, cut to `shape` where the last ones overhang."""
    pixels = np.repeat(np.repeat(blocks, BLOCK, axis=0), BLOCK, axis=1)
    return pixels[: shape[0], : shape[1]]


def _blocks_over(sample: Image.Image, lut: list[int], share: int) -> npt.NDArray[np.bool_]:
    """Blocks in which at least share/255 of the pixels fall in the lookup table's range."""
    return np.asarray(sample.point(lut).reduce(BLOCK // _STEP)) >= share


def _grow(mask: npt.NDArray[np.bool_]) -> npt.NDArray[np.bool_]:
    """Dilate a block mask by one block in every direction, diagonals included."""
    rows = mask.copy()
    rows[1:] |= mask[:-1]
    rows[:-1] |= mask[1:]
    grown = rows.copy()
    grown[:, 1:] |= rows[:, :-1]
    grown[:, :-1] |= rows[:, 1:]
    return grown
