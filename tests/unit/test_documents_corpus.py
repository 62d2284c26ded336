"""documents: every PDF of the shared public corpus, accepted or refused as cases.json says."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from faxcast.documents import line_bits, render_pdf
from faxcast.documents.linebits import t6_bits
from faxcast.domain.quality import Resolution
from faxcast.errors import DocumentError

REPOSITORY = Path(__file__).resolve().parents[2]


def _find_corpus() -> Path:
    """$FAXCAST_PDF_CORPUS, else the shared folder beside this checkout, else the workplace's."""
    candidates = [
        REPOSITORY.parent / "shared" / "corpus" / "pdfs",
        Path("/work/shared/corpus/pdfs"),
    ]
    if "FAXCAST_PDF_CORPUS" in os.environ:
        candidates = [Path(os.environ["FAXCAST_PDF_CORPUS"])]
    return next((path for path in candidates if (path / "cases.json").is_file()), candidates[0])


CORPUS = _find_corpus()
CASES = CORPUS / "cases.json"


def corpus_cases(expect: str) -> list[Any]:
    """One parameter per corpus file, or a single failing one when the corpus is missing."""
    if not CASES.is_file():
        return [pytest.param(None, id="corpus-missing")]
    cases = json.loads(CASES.read_text(encoding="utf-8"))
    return [pytest.param(case, id=case["file"]) for case in cases if case["expect"] == expect]


def read_case(case: dict[str, Any] | None) -> bytes:
    if case is None:
        pytest.fail(f"PDF corpus not found: {CASES} is missing (expected beside the repository)")
    return (CORPUS / str(case["file"])).read_bytes()


@pytest.mark.parametrize("resolution", list(Resolution), ids=lambda r: r.value)
@pytest.mark.parametrize("case", corpus_cases("accept"))
def test_accepted(case: dict[str, Any] | None, resolution: Resolution) -> None:
    data = read_case(case)
    assert case is not None
    document = render_pdf(data, resolution)
    assert len(document.pages) == case["pages"]
    _, vertical_dpi = resolution.dpi
    for number, (page, (width, height)) in enumerate(
        zip(document.pages, case["page_sizes_pt"], strict=True), start=1
    ):
        assert page.image.mode == "1", f"page {number}"
        assert page.image.width == 1728, f"page {number}"
        # Landscape pages are turned upright: their long side runs down the paper.
        across, down = (height, width) if width > height else (width, height)
        expected = 1728 * down / across * vertical_dpi / 204
        assert abs(page.image.height - expected) <= 2, f"page {number}"


@pytest.mark.parametrize("case", corpus_cases("refuse"))
def test_refused(case: dict[str, Any] | None) -> None:
    data = read_case(case)
    assert case is not None
    with pytest.raises(DocumentError) as caught:
        render_pdf(data, Resolution.FINE)
    assert caught.value.problem.value == case["refuse_reason"]
    assert caught.value.message


# Ghostscript's halftone of the corpus's grey pages (gs 10.0 tiffg4, -dFIXEDMEDIA -dPDFFitPage),
# per page in T.6 bits (sent with ECM) and T.4 2-D bits (without), as `bench/render.py
# --line-time` measured them. faxcast's clustered-dot screen must not cost more line time: its
# T.6 is at most gs's, and so is its largest coding (line_bits, which bounds its T.4 2-D).
# Measured: faxcast 0.45 to 0.72 of gs's T.6 at fine, 0.32 to 0.56 at standard; the
# Floyd-Steinberg dither it replaces made 2.3 to 2.8 times gs's at fine.
GHOSTSCRIPT_BITS = {
    ("photo-grayscale-small-page.pdf", Resolution.FINE): [(1_490_000, 1_517_000)],
    ("photo-grayscale-small-page.pdf", Resolution.STANDARD): [(1_466_000, 1_182_000)],
    ("a3-landscape-gradient.pdf", Resolution.FINE): [(2_768_000, 2_729_000)],
    ("a3-landscape-gradient.pdf", Resolution.STANDARD): [(2_779_000, 2_169_000)],
    ("a4-scanned-form-jpeg.pdf", Resolution.FINE): [(1_125_000, 1_176_000), (426_000, 464_000)],
    ("a4-scanned-form-jpeg.pdf", Resolution.STANDARD): [(780_000, 725_000), (284_000, 274_000)],
}


@pytest.mark.parametrize(
    ("name", "resolution"), list(GHOSTSCRIPT_BITS), ids=lambda value: getattr(value, "value", value)
)
def test_grey_pages_cost_no_more_line_time_than_ghostscripts(
    name: str, resolution: Resolution
) -> None:
    document = render_pdf((CORPUS / name).read_bytes(), resolution)
    theirs = GHOSTSCRIPT_BITS[(name, resolution)]
    for page, bits, (gs_t6, gs_t4) in zip(document.pages, line_bits(document), theirs, strict=True):
        assert t6_bits(page) <= gs_t6
        assert bits <= gs_t4
