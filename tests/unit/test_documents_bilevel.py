"""documents: grey to bilevel keeps text crisp and dithers photos so their greys survive."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from faxcast.documents.bilevel import MID_HIGH, MID_LOW, GreyPixels, grey_area_blocks, to_bilevel
from faxcast.documents.pdf import _opened, _render_page
from faxcast.domain.quality import Resolution
from tests import pdfs

Mask = npt.NDArray[np.bool_]


def render_grey(data: bytes, resolution: Resolution, index: int = 0) -> GreyPixels:
    with _opened(data) as pdf:
        return _render_page(pdf, index, resolution)


def white_of(grey: GreyPixels) -> Mask:
    """The page to_bilevel packs, unpacked: True where the paper stays white."""
    ink = np.unpackbits(to_bilevel(grey), axis=1, count=grey.shape[1])
    white: Mask = ink == 0
    return white


def isolated_share(ink: Mask) -> float:
    """Share of ink pixels with no ink among their 8 neighbours: dither dots, not strokes."""
    padded = np.pad(ink, 1).astype(np.uint8)
    rows, columns = ink.shape
    neighbours = np.zeros(ink.shape, dtype=np.uint8)
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            if (dy, dx) != (0, 0):
                neighbours += padded[1 + dy : 1 + dy + rows, 1 + dx : 1 + dx + columns]
    isolated = int(np.count_nonzero(ink & (neighbours == 0)))
    return isolated / max(1, int(np.count_nonzero(ink)))


def block_means(pixels: npt.NDArray[np.float64], size: int) -> npt.NDArray[np.float64]:
    rows = pixels.shape[0] // size * size
    columns = pixels.shape[1] // size * size
    blocks = pixels[:rows, :columns].reshape(rows // size, size, columns // size, size)
    means: npt.NDArray[np.float64] = blocks.mean(axis=(1, 3))
    return means


def photo_area(rows: int) -> tuple[slice, slice]:
    """PHOTO_BOX in pixels of a rendered A4 page, 24 px in from its edges."""
    left, bottom, right, top = pdfs.PHOTO_BOX
    across = 1728 / pdfs.A4[0]
    down = rows / pdfs.A4[1]
    return (
        slice(round((pdfs.A4[1] - top) * down) + 24, round((pdfs.A4[1] - bottom) * down) - 24),
        slice(round(left * across) + 24, round(right * across) - 24),
    )


@pytest.mark.parametrize("resolution", list(Resolution), ids=lambda r: r.value)
def test_text_is_thresholded_crisp(resolution: Resolution) -> None:
    grey = render_grey(pdfs.text_pdf(), resolution)
    ink = ~white_of(grey)
    assert ink.mean() > 0.02
    assert isolated_share(ink) < 0.001
    assert not grey_area_blocks(grey).any()


@pytest.mark.parametrize("resolution", list(Resolution), ids=lambda r: r.value)
def test_photo_is_halftoned_and_keeps_its_greys(resolution: Resolution) -> None:
    grey = render_grey(pdfs.photo_pdf(), resolution)
    area = photo_area(grey.shape[0])
    white = white_of(grey)[area]
    assert 0.2 < white.mean() < 0.8  # black and white both frequent
    # Dots, not solid shapes: a change of colour every few pixels along a row...
    assert np.count_nonzero(white[:, 1:] != white[:, :-1]) / white.size > 0.1
    # ... and clustered dots, not the scattered single pixels of error diffusion.
    assert isolated_share(~white) < 0.02
    # The local mean of the dots follows the photo's grey level.
    source = block_means(grey[area].astype(np.float64), 32)
    dithered = block_means(white.astype(np.float64) * 255, 32)
    assert np.abs(source - dithered).max() < 16


def test_text_around_a_photo_stays_crisp() -> None:
    grey = render_grey(pdfs.photo_pdf(), Resolution.FINE)
    ink = ~white_of(grey)
    title = ink[: photo_area(grey.shape[0])[0].start - 100]
    assert title.any()
    assert isolated_share(title) < 0.001


@pytest.mark.parametrize(
    ("colour", "luma"), [("1 0 0", 76), ("0 1 0", 150), ("0 0 1", 29), ("1 1 0", 226)]
)
def test_colour_fills_render_to_their_luma(colour: str, luma: int) -> None:
    # ITU-R BT.601 weights: coloured text and fills keep the contrast the eye sees.
    page = pdfs.Page()
    page.content.append(f"{colour} rg 100 300 300 300 re f")
    grey = render_grey(pdfs.build_pdf([page]), Resolution.FINE)
    inside = grey[grey.shape[0] // 2, 1728 * 250 // round(pdfs.A4[0])]
    assert abs(int(inside) - luma) <= 2


def test_grey_fill_is_dithered_and_lines_kept() -> None:
    grey = render_grey(pdfs.drawing_pdf(), Resolution.FINE)
    white = white_of(grey)
    rows = grey.shape[0] / pdfs.A4[1]
    across = 1728 / pdfs.A4[0]
    # The 60% grey fill at (330, 230)-(520, 370) pt, inside its frame.
    fill = white[
        round((pdfs.A4[1] - 370) * rows) + 16 : round((pdfs.A4[1] - 230) * rows) - 16,
        round(330 * across) + 16 : round(520 * across) - 16,
    ]
    assert abs(fill.mean() - 0.6) < 0.05
    # The thinnest line (0.25 pt) is drawn on every row it crosses.
    band = ~white[round((pdfs.A4[1] - 700) * rows) : round((pdfs.A4[1] - 460) * rows)]
    assert band[:, round(95 * across) : round(143 * across)].any(axis=1).all()


@settings(max_examples=40, deadline=None)
@given(level=st.integers(MID_LOW, MID_HIGH))
def test_uniform_grey_is_dithered_to_its_level(level: int) -> None:
    grey = np.full((256, 1728), level, dtype=np.uint8)
    white = white_of(grey)
    assert abs(white.mean() - level / 255) < 0.03


@pytest.mark.parametrize(("level", "share"), [(0, 0.0), (100, 0.0), (200, 1.0), (255, 1.0)])
def test_thin_strokes_are_thresholded(level: int, share: float) -> None:
    grey = np.full((200, 1728), 255, dtype=np.uint8)
    grey[::20, :] = level  # 1-pixel rules: too thin to count as a grey area
    white = white_of(grey)
    assert white[::20, :].mean() == share
    assert white[1::20, :].all()


def test_to_bilevel_wants_2d_bytes() -> None:
    with pytest.raises(ValueError, match="2-D uint8"):
        to_bilevel(np.zeros((4, 4, 3), dtype=np.uint8))


@pytest.mark.parametrize("tint", [0.8, 0.65])
def test_text_over_a_tint_stays_sharp(tint: float) -> None:
    def page(*, tinted: bool) -> pdfs.Page:
        drawn = pdfs.Page()
        if tinted:
            drawn.content.append(f"{tint} g 60 480 420 200 re f 0 g")
        drawn.paragraph(72, 650, 11, pdfs.LOREM, 400)
        return drawn

    text = ~white_of(render_grey(pdfs.build_pdf([page(tinted=False)]), Resolution.FINE))
    grey = render_grey(pdfs.build_pdf([page(tinted=True)]), Resolution.FINE)
    tinted = ~white_of(grey)
    assert grey_area_blocks(grey).any()  # the tint is screened...
    # ... the text on it is inked wherever it is on white paper...
    assert np.count_nonzero(tinted & text) / np.count_nonzero(text) > 0.99
    # ... and kept clear of the screen's dots: the pixels around its strokes hold less than
    # half the dots the tint has elsewhere (as many, screened alone).
    rows, columns = text.shape
    around = np.zeros_like(text)
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            around[1:-1, 1:-1] |= text[1 + dy : rows - 1 + dy, 1 + dx : columns - 1 + dx]
    around &= ~text
    assert tinted[around].mean() < (1 - tint) / 2
