"""documents: every PDF of the shared public corpus, accepted or refused as cases.json says."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from faxcast.documents import render_pdf
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
    horizontal_dpi, vertical_dpi = resolution.dpi
    for number, (page, (width, height)) in enumerate(
        zip(document.pages, case["page_sizes_pt"], strict=True), start=1
    ):
        assert page.image.mode == "1", f"page {number}"
        assert page.image.width == 1728, f"page {number}"
        # Landscape pages are turned upright: their long side runs down the paper.
        across, down = (height, width) if width > height else (width, height)
        # True size, or scaled down to the 1728 px scan line when wider than it.
        scale = min(1.0, 1728 / (across / 72 * horizontal_dpi))
        assert abs(page.image.height - down / 72 * vertical_dpi * scale) <= 1, f"page {number}"
        # Nothing drawn outside the page's own width, centred in the scan line.
        margin = (1728 - across / 72 * horizontal_dpi * scale) / 2
        ink = ~np.asarray(page.image)
        outside = int(margin) - 1
        if outside > 0:
            assert not ink[:, :outside].any(), f"page {number}"
            assert not ink[:, -outside:].any(), f"page {number}"


@pytest.mark.parametrize("case", corpus_cases("refuse"))
def test_refused(case: dict[str, Any] | None) -> None:
    data = read_case(case)
    assert case is not None
    with pytest.raises(DocumentError) as caught:
        render_pdf(data, Resolution.FINE)
    assert caught.value.problem.value == case["refuse_reason"]
    assert caught.value.message
