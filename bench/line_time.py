"""Line time and legibility per corpus page: faxcast's rendering against Ghostscript's.

Run through `python bench/render.py --line-time` (see its docstring). For each page of every
corpus PDF that cases.json accepts, at fine and standard:

    T.6 kbit      the page's G4 strip, as sent with ECM (faxcast: write_tiff_f; gs: tiffg4)
    T.4 kbit      the same page as T.4 2-D, as sent without ECM (tiffcp -c g3:2d on each file)
    s             those bits at 14 400 bit/s (V.17), the rate a healthy line trains at: image
                  line time only, T.30's exchanges being the same for both renderings
    cap s         faxcast's watchdog for a call of that one page (domain.retry.call_cap_s, at
                  the slowest rate the quality's modems may fall back to)
    OCR           share of the PDF's own words (its text layer, pypdfium2) found by tesseract in
                  the page image; "-" for pages with no text layer (scans, photos). Standard
                  pages are doubled in height first so both read square pixels; a page whose
                  text runs sideways (turned landscape) is read turned too, the best kept.

A "!" marks a faxcast page that takes longer than gs's, or reads worse. Exit 0 whatever the
figures (a measurement); the caller's exit code reports failed checks.
"""

from __future__ import annotations

import collections
import json
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pypdfium2 as pdfium
from PIL import Image, TiffImagePlugin

from faxcast.documents import line_bits, render_pdf, write_tiff_f
from faxcast.domain.quality import Quality, Resolution
from faxcast.domain.retry import call_cap_s

V17_BPS = 14_400
STRIP_BYTE_COUNTS = 279  # TIFF tag
SUBPROCESS_TIMEOUT_S = 300.0
OCR_TURN_BELOW = 0.5  # a page read this badly upright is read turned too
QUALITIES = (Quality.HIGH, Quality.NORMAL)  # fine, standard
GS_MEDIA = {
    Resolution.FINE: ("-r204x196", "-g1728x2292"),
    Resolution.STANDARD: ("-r204x98", "-g1728x1146"),
}
_WORD = re.compile(r"[a-z0-9]{2,}")


@dataclass(frozen=True)
class PageFigures:
    """One rendering of one page: its bits in both codings and how well it reads."""

    t6_bits: int
    t4_bits: int
    ocr: float | None


@dataclass(frozen=True)
class PageRow:
    """One corpus page at one quality, both engines."""

    label: str
    faxcast: PageFigures
    gs: PageFigures
    cap_s: float


def words(text: str) -> collections.Counter[str]:
    """The words of a text, lower case, two characters or more."""
    return collections.Counter(_WORD.findall(text.lower()))


def pdf_words(path: Path) -> list[collections.Counter[str]]:
    """Each page's words from the PDF's own text layer."""
    pdf = pdfium.PdfDocument(str(path))
    try:
        pages = []
        for index in range(len(pdf)):
            page = pdf[index]
            text = page.get_textpage()
            pages.append(words(text.get_text_range()))
            text.close()
            page.close()
        return pages
    finally:
        pdf.close()


def strip_bits(tiff: Path) -> list[int]:
    """Each page's strip bits in a TIFF (StripByteCounts summed)."""
    bits = []
    with Image.open(tiff) as image:
        assert isinstance(image, TiffImagePlugin.TiffImageFile)
        for index in range(image.n_frames):
            image.seek(index)
            bits.append(8 * sum(image.tag_v2[STRIP_BYTE_COUNTS]))
    return bits


def as_t4_2d(tiff: Path, tiffcp: str) -> list[int]:
    """Each page's bits once the TIFF is recoded as T.4 2-D (libtiff's G3 2-D)."""
    out = tiff.with_suffix(".g3.tif")
    subprocess.run(
        [tiffcp, "-c", "g3:2d", str(tiff), str(out)], check=True, timeout=SUBPROCESS_TIMEOUT_S
    )
    return strip_bits(out)


def ocr_score(image: Image.Image, reference: collections.Counter[str], tesseract: str) -> float:
    """Share of the reference words tesseract finds in a bilevel page (turned if need be)."""
    best = 0.0
    for turn in (0, 90, 270):
        if turn and best >= OCR_TURN_BELOW:
            break
        with tempfile.NamedTemporaryFile(suffix=".png") as png:
            image.rotate(turn, expand=True).save(png.name)
            done = subprocess.run(
                [tesseract, png.name, "stdout", "--dpi", "204", "-l", "eng"],
                capture_output=True,
                text=True,
                check=True,
                timeout=SUBPROCESS_TIMEOUT_S,
            )
        found = words(done.stdout)
        best = max(best, sum((reference & found).values()) / sum(reference.values()))
    return best


def page_images(tiff: Path, resolution: Resolution) -> list[Image.Image]:
    """The TIFF's pages as square-pixel greyscale images, for OCR."""
    images = []
    with Image.open(tiff) as image:
        for index in range(getattr(image, "n_frames", 1)):
            image.seek(index)
            page = image.convert("L")
            if resolution is Resolution.STANDARD:
                page = page.resize((page.width, page.height * 2), Image.Resampling.NEAREST)
            images.append(page)
    return images


def measure_pdf(
    path: Path, quality: Quality, workdir: Path, tools: dict[str, str]
) -> list[PageRow]:
    """Both engines' figures for every page of one PDF at one quality."""
    resolution = quality.profile.resolution
    references = pdf_words(path)
    document = render_pdf(path.read_bytes(), resolution)
    ours = workdir / f"faxcast-{path.stem}-{resolution.value}.tif"
    ours.write_bytes(write_tiff_f(document))
    theirs = workdir / f"gs-{path.stem}-{resolution.value}.tif"
    subprocess.run(
        [
            tools["gs"], "-q", "-dSAFER", "-dBATCH", "-dNOPAUSE", "-sDEVICE=tiffg4",
            *GS_MEDIA[resolution], "-dFIXEDMEDIA", "-dPDFFitPage",
            f"-sOutputFile={theirs}", str(path),
        ],
        check=True,
        capture_output=True,
        timeout=SUBPROCESS_TIMEOUT_S,
    )  # fmt: skip
    figures = {}
    for engine, tiff in (("faxcast", ours), ("gs", theirs)):
        t6, t4 = strip_bits(tiff), as_t4_2d(tiff, tools["tiffcp"])
        scores: list[float | None] = [
            ocr_score(image, reference, tools["tesseract"]) if reference else None
            for image, reference in zip(page_images(tiff, resolution), references, strict=True)
        ]
        figures[engine] = [PageFigures(*page) for page in zip(t6, t4, scores, strict=True)]
    return [
        PageRow(
            f"{path.name} p{number}",
            faxcast,
            gs,
            call_cap_s((bits,), quality.profile),
        )
        for number, (faxcast, gs, bits) in enumerate(
            zip(figures["faxcast"], figures["gs"], line_bits(document), strict=True), start=1
        )
    ]


def _seconds(bits: int) -> float:
    return bits / V17_BPS


def _ocr(score: float | None) -> str:
    return "-" if score is None else f"{score:.3f}"


HEADER = (
    f"{'page':<48} {'T.6 kbit fc/gs':>15} {'ECM s fc/gs':>13}  {'T.4 kbit fc/gs':>15} "
    f"{'no-ECM s fc/gs':>15}  {'cap s':>6}  {'OCR fc/gs':>12}"
)


def row_text(row: PageRow) -> str:
    """One page's line of the table, "!" where faxcast does worse than gs."""
    fc, gs = row.faxcast, row.gs
    slower_ecm = "!" if fc.t6_bits > gs.t6_bits else " "
    slower_t4 = "!" if fc.t4_bits > gs.t4_bits else " "
    reads_worse = "!" if fc.ocr is not None and gs.ocr is not None and fc.ocr < gs.ocr else " "
    return (
        f"{row.label:<48} {fc.t6_bits / 1e3:>7.0f}/{gs.t6_bits / 1e3:<7.0f} "
        f"{_seconds(fc.t6_bits):>6.1f}/{_seconds(gs.t6_bits):<5.1f}{slower_ecm} "
        f"{fc.t4_bits / 1e3:>7.0f}/{gs.t4_bits / 1e3:<7.0f} "
        f"{_seconds(fc.t4_bits):>6.1f}/{_seconds(gs.t4_bits):<6.1f}{slower_t4} "
        f"{row.cap_s:>6.0f}  {_ocr(fc.ocr):>5}/{_ocr(gs.ocr):<5}{reads_worse}"
    )


def accepted_pdfs(corpus: Path) -> list[Path]:
    """The corpus PDFs cases.json says faxcast accepts, in its order."""
    cases = json.loads((corpus / "cases.json").read_text(encoding="utf-8"))
    return [corpus / case["file"] for case in cases if case["expect"] == "accept"]


def report(corpus: Path, gs: str) -> list[str]:
    """Print the per-page table at each quality; returns the problems (missing tools)."""
    tools = {"gs": gs}
    for tool in ("tiffcp", "tesseract"):
        found = shutil.which(tool)
        if found is None:
            return [f"line time: needs {tool} on PATH (libtiff-tools, tesseract-ocr)"]
        tools[tool] = found
    print()
    print(
        f"line time per page at {V17_BPS} bit/s: faxcast (fc) against gs; T.6 with ECM, T.4 2-D "
        "without; cap: faxcast's watchdog for that page alone; OCR: share of the PDF's words read"
    )
    for quality in QUALITIES:
        resolution = quality.profile.resolution
        print()
        print(f"{resolution.value} ({quality.value})")
        print(HEADER)
        print("-" * len(HEADER))
        rows: list[PageRow] = []
        with tempfile.TemporaryDirectory(prefix="faxcast-line-time-") as tmp:
            for path in accepted_pdfs(corpus):
                for row in measure_pdf(path, quality, Path(tmp), tools):
                    print(row_text(row), flush=True)
                    rows.append(row)
        summarise(resolution, rows)
    return []


def summarise(resolution: Resolution, rows: list[PageRow]) -> None:
    """Totals, the worst ratio to gs, and the mean OCR where both read text."""
    fc6, gs6 = sum(r.faxcast.t6_bits for r in rows), sum(r.gs.t6_bits for r in rows)
    fc4, gs4 = sum(r.faxcast.t4_bits for r in rows), sum(r.gs.t4_bits for r in rows)
    worst6 = max(rows, key=lambda r: r.faxcast.t6_bits / r.gs.t6_bits)
    worst4 = max(rows, key=lambda r: r.faxcast.t4_bits / r.gs.t4_bits)
    read = [r for r in rows if r.faxcast.ocr is not None and r.gs.ocr is not None]
    print("-" * len(HEADER))
    print(
        f"{resolution.value}: all {len(rows)} pages, line s with ECM {_seconds(fc6):.0f} "
        f"(gs {_seconds(gs6):.0f}), without {_seconds(fc4):.0f} (gs {_seconds(gs4):.0f}); "
        f"worst page against gs: ECM x{worst6.faxcast.t6_bits / worst6.gs.t6_bits:.2f} "
        f"({worst6.label}), no ECM x{worst4.faxcast.t4_bits / worst4.gs.t4_bits:.2f} "
        f"({worst4.label})"
    )
    if read:
        fc_ocr = sum(r.faxcast.ocr or 0.0 for r in read) / len(read)
        gs_ocr = sum(r.gs.ocr or 0.0 for r in read) / len(read)
        worse = sum(1 for r in read if (r.faxcast.ocr or 0.0) < (r.gs.ocr or 0.0))
        print(
            f"{resolution.value}: OCR over the {len(read)} pages with a text layer: faxcast "
            f"{fc_ocr:.3f}, gs {gs_ocr:.3f} of words (faxcast reads worse on {worse})"
        )
