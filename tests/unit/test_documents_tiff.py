"""documents: TIFF-F written for SpanDSP, and read back with every page checked."""

from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, TiffImagePlugin

from faxcast.documents import FaxDocument, FaxPage, read_tiff_f, render_pdf, write_tiff_f
from faxcast.documents.model import MAX_ROWS, ROW_BYTES
from faxcast.domain.quality import Resolution
from faxcast.errors import DocumentError, DocumentProblem
from tests import pdfs

GROUP4 = 4
MIN_IS_WHITE = 0
INCH = 2
MSB_FIRST = 1


@pytest.fixture(scope="module", params=list(Resolution), ids=lambda r: r.value)
def document(request: pytest.FixtureRequest) -> FaxDocument:
    resolution: Resolution = request.param
    return render_pdf(pdfs.mixed_pdf(), resolution)


@pytest.fixture(scope="module")
def three_pages() -> bytes:
    return write_tiff_f(render_pdf(pdfs.text_pdf(3), Resolution.FINE))


def tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} (Debian package libtiff-tools) is needed to check TIFF-F files")
    return path


def pixels(document: FaxDocument) -> list[bytes]:
    return [page.image.tobytes() for page in document.pages]


def tiff_of(*images: Image.Image, **options: Any) -> bytes:
    buffer = io.BytesIO()
    options.setdefault("compression", "group4")
    images[0].save(buffer, format="TIFF", save_all=True, append_images=images[1:], **options)
    return buffer.getvalue()


def blank(width: int = 1728, rows: int = 64, mode: str = "1") -> Image.Image:
    image = Image.new(mode, (width, rows), 255)
    image.paste(0, (100, 10, 400, 20))  # some ink
    return image


def bad(data: bytes) -> DocumentError:
    with pytest.raises(DocumentError) as caught:
        read_tiff_f(data)
    assert caught.value.problem is DocumentProblem.BAD_TIFF
    return caught.value


def strips(data: bytes, page: int) -> tuple[int, int]:
    """First and one-past-last byte of a page's strip data."""
    with Image.open(io.BytesIO(data)) as image:
        assert isinstance(image, TiffImagePlugin.TiffImageFile)
        image.seek(page - 1)
        offsets, counts = image.tag_v2[273], image.tag_v2[279]
    return offsets[0], offsets[-1] + counts[-1]


# --- writing ------------------------------------------------------------------------------


def test_round_trip_keeps_every_pixel(document: FaxDocument) -> None:
    again = read_tiff_f(write_tiff_f(document))
    assert again.resolution is document.resolution
    assert len(again.pages) == len(document.pages) == 3
    assert pixels(again) == pixels(document)


def test_tags_are_tiff_class_f(document: FaxDocument) -> None:
    with Image.open(io.BytesIO(write_tiff_f(document))) as image:
        assert isinstance(image, TiffImagePlugin.TiffImageFile)
        assert image.n_frames == 3
        for frame in range(3):
            image.seek(frame)
            tags = image.tag_v2
            assert tags[254] == 2  # a page of a multi-page document
            assert tags[256] == 1728
            assert tags[257] == document.pages[frame].image.height
            assert tags[258] in (1, (1,))
            assert tags[259] == GROUP4
            assert tags[262] == MIN_IS_WHITE
            assert (tags[282], tags[283], tags[296]) == (*document.resolution.dpi, INCH)
            assert tags[266] == MSB_FIRST
            assert tags[278] == tags[257]  # one strip: the page's whole T.6 stream
            assert len(tags[273]) == len(tags[279]) == 1
            assert tags[297] == (frame, 3)  # PageNumber: this page (from 0) of how many
            assert tags[305] == "faxcast"


def test_libtiff_decodes_every_strip(document: FaxDocument, tmp_path: Path) -> None:
    path = tmp_path / "fax.tif"
    path.write_bytes(write_tiff_f(document))
    run = subprocess.run(
        [tool("tiffinfo"), "-D", str(path)], capture_output=True, text=True, check=False
    )
    assert run.returncode == 0
    assert run.stderr == ""
    assert run.stdout.count("TIFF Directory at offset") == 3
    assert run.stdout.count("Image Width: 1728") == 3
    assert run.stdout.count("Bits/Sample: 1") == 3
    assert run.stdout.count("Compression Scheme: CCITT Group 4") == 3
    assert run.stdout.count("Photometric Interpretation: min-is-white") == 3
    assert run.stdout.count(f"Resolution: 204, {document.resolution.dpi[1]}") == 3


def test_ink_is_black_for_libtiff(tmp_path: Path) -> None:
    # Relabelling the photometric tag must not turn the page into its negative.
    document = render_pdf(pdfs.text_pdf(), Resolution.FINE)
    source, copy = tmp_path / "fax.tif", tmp_path / "raw.tif"
    source.write_bytes(write_tiff_f(document))
    # Uncompressed MinIsBlack, written by libtiff itself, read back by Pillow's own decoder.
    subprocess.run([tool("tiffcp"), "-c", "none", str(source), str(copy)], check=True)
    with Image.open(copy) as image:
        assert np.array_equal(np.asarray(image.convert("1")), np.asarray(document.pages[0].image))


def noise_page(rows: int, resolution: Resolution, seed: int, sparse: bool = False) -> FaxPage:
    random = np.random.default_rng(seed)
    ink = random.integers(0, 256, (rows, ROW_BYTES), dtype=np.uint8)
    if sparse:
        ink &= random.integers(0, 256, ink.shape, dtype=np.uint8)
        ink &= random.integers(0, 256, ink.shape, dtype=np.uint8)
    return FaxPage(ink.tobytes(), resolution)


@pytest.fixture(scope="module", params=list(Resolution), ids=lambda r: r.value)
def odd_pages(request: pytest.FixtureRequest) -> FaxDocument:
    """Noise (G4's worst case: its codes outgrow the raw bits), solid pages, and page lengths
    from one row to the longest allowed."""
    resolution: Resolution = request.param
    pages = (
        noise_page(2348, resolution, seed=1),
        FaxPage(b"\xff" * ROW_BYTES * 300, resolution),
        FaxPage(bytes(ROW_BYTES * 300), resolution),
        noise_page(1, resolution, seed=2),
        noise_page(MAX_ROWS, resolution, seed=3, sparse=True),
    )
    return FaxDocument(pages, resolution)


def test_any_pages_come_back_bit_for_bit(odd_pages: FaxDocument) -> None:
    again = read_tiff_f(write_tiff_f(odd_pages))
    assert again.resolution is odd_pages.resolution
    assert [page.ink for page in again.pages] == [page.ink for page in odd_pages.pages]


def test_libtiff_decodes_any_pages_to_the_same_pixels(
    odd_pages: FaxDocument, tmp_path: Path
) -> None:
    source, raw = tmp_path / "fax.tif", tmp_path / "raw.tif"
    source.write_bytes(write_tiff_f(odd_pages))
    run = subprocess.run(
        [tool("tiffinfo"), "-D", str(source)], capture_output=True, text=True, check=False
    )
    assert (run.returncode, run.stderr) == (0, "")
    assert run.stdout.count("Compression Scheme: CCITT Group 4") == 5
    # Decoded by the system's libtiff, not Pillow's, then read back uncompressed.
    subprocess.run([tool("tiffcp"), "-c", "none", str(source), str(raw)], check=True)
    with Image.open(raw) as image:
        for number, page in enumerate(odd_pages.pages):
            image.seek(number)
            assert image.size == (1728, page.rows)
            assert np.array_equal(np.asarray(image.convert("1")), np.asarray(page.image))


# --- reading what SpanDSP and others write ------------------------------------------------


@pytest.mark.parametrize(
    "options",
    [
        ["-c", "g3:2d", "-f", "lsb2msb"],  # what SpanDSP's receiver writes
        ["-c", "g3:1d"],
        ["-c", "g4", "-f", "lsb2msb"],
        ["-c", "none"],
        ["-c", "lzw"],
    ],
    ids=["g3-2d-fillorder2", "g3-1d", "g4-fillorder2", "uncompressed", "lzw"],
)
def test_reads_other_codings(three_pages: bytes, options: list[str], tmp_path: Path) -> None:
    source, copy = tmp_path / "fax.tif", tmp_path / "copy.tif"
    source.write_bytes(three_pages)
    subprocess.run([tool("tiffcp"), *options, str(source), str(copy)], check=True)
    assert pixels(read_tiff_f(copy.read_bytes())) == pixels(read_tiff_f(three_pages))


def test_reads_min_is_black() -> None:
    page = blank()
    document = read_tiff_f(tiff_of(page, dpi=(204, 196)))  # Pillow's own way to store "1"
    assert document.pages[0].image.tobytes() == page.tobytes()


@pytest.mark.parametrize(
    ("options", "resolution"),
    [
        ({"dpi": (203, 196)}, Resolution.FINE),
        ({"dpi": (204, 97)}, Resolution.STANDARD),
        ({"dpi": (204, 195)}, Resolution.FINE),
        ({"resolution_unit": 3, "x_resolution": 80.3, "y_resolution": 77.2}, Resolution.FINE),
        ({"resolution_unit": 3, "x_resolution": 80, "y_resolution": 38.5}, Resolution.STANDARD),
    ],
    ids=["203x196", "204x97", "204x195", "per-cm-fine", "per-cm-standard"],
)
def test_accepts_rounded_resolutions(options: dict[str, Any], resolution: Resolution) -> None:
    assert read_tiff_f(tiff_of(blank(), **options)).resolution is resolution


# --- refusals -----------------------------------------------------------------------------


def test_refuses_a4_width_at_204_dpi() -> None:
    error = bad(tiff_of(blank(1686), dpi=(204, 196)))
    assert error.page == 1
    assert "1686 px wide" in str(error)


def test_refuses_a_bad_page_among_good_ones() -> None:
    error = bad(tiff_of(blank(), blank(1686), blank(), dpi=(204, 196)))
    assert error.page == 2


@pytest.mark.parametrize("dpi", [(300, 300), (200, 200), (204, 391), (204, 20)])
def test_refuses_other_resolutions(dpi: tuple[int, int]) -> None:
    error = bad(tiff_of(blank(), dpi=dpi))
    assert error.page == 1
    assert f"{dpi[0]} x {dpi[1]} dpi" in str(error)


def test_refuses_missing_resolution() -> None:
    assert "no resolution" in str(bad(tiff_of(blank())))


def test_refuses_8_bit_grey() -> None:
    error = bad(tiff_of(blank(mode="L"), compression="raw", dpi=(204, 196)))
    assert error.page == 1
    assert "not bilevel" in str(error)


def test_refuses_mixed_resolutions(tmp_path: Path) -> None:
    fine, standard, both = tmp_path / "fine.tif", tmp_path / "standard.tif", tmp_path / "both.tif"
    fine.write_bytes(tiff_of(blank(), dpi=(204, 196)))
    standard.write_bytes(tiff_of(blank(), dpi=(204, 98)))
    subprocess.run([tool("tiffcp"), str(fine), str(standard), str(both)], check=True)
    error = bad(both.read_bytes())
    assert error.page == 2
    assert "one resolution" in str(error)


@pytest.mark.parametrize("where", ["start", "middle", "end"])
def test_refuses_a_file_cut_inside_page_2_of_3(three_pages: bytes, where: str) -> None:
    start, end = strips(three_pages, 2)
    cut = {"start": start + 10, "middle": (start + end) // 2, "end": end - 1}[where]
    error = bad(three_pages[:cut])
    assert error.page == 2
    assert "page 2" in str(error)


def test_refuses_g4_data_that_libtiff_cannot_decode(three_pages: bytes) -> None:
    start, _ = strips(three_pages, 2)
    garbled = bytearray(three_pages)
    garbled[start : start + 4] = bytes.fromhex("00100100")  # end of facsimile block at once
    error = bad(bytes(garbled))
    assert error.page == 2
    assert "cannot be decoded" in str(error)


@pytest.mark.parametrize("data", [b"", b"II*\x00", b"%PDF-1.4", b"\x89PNG\r\n\x1a\n"])
def test_refuses_what_is_not_a_tiff(data: bytes) -> None:
    assert bad(data).page == 1


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_damaged_tiff_gives_a_document_or_a_document_error(data: st.DataObject) -> None:
    original = write_tiff_f(read_tiff_f(tiff_of(blank(), blank(), dpi=(204, 98))))
    damaged = bytearray(original[: data.draw(st.integers(0, len(original)))])
    for _ in range(data.draw(st.integers(0, 8))):
        if damaged:
            damaged[data.draw(st.integers(0, len(damaged) - 1))] ^= data.draw(st.integers(1, 255))
    try:
        document = read_tiff_f(bytes(damaged))
    except DocumentError as error:
        problem, page = error.problem, error.page
    else:
        assert all(page.image.width == 1728 for page in document.pages)
        return
    assert problem is DocumentProblem.BAD_TIFF
    assert page is not None
