"""PDF to TIFF-F rendering throughput: faxcast (render_pdf + write_tiff_f) against Ghostscript.

Run by hand, from the repository root, with faxcast installed (editable), Ghostscript (gs) and
libtiff-tools (tiffinfo) present, and the public PDF corpus at $FAXCAST_PDF_CORPUS, else
<repo>/../shared/corpus/pdfs, else /work/shared/corpus/pdfs:

    python bench/render.py [--repeat N]
    python bench/render.py --line-time

--line-time measures, instead of the throughput below, every accepted corpus page's line time
and legibility against Ghostscript's (bench/line_time.py: bits as T.6 and T.4 2-D, seconds at
14 400 bit/s, faxcast's watchdog cap, tesseract OCR); it needs tiffcp and tesseract too.

Both engines render the same pages at the same resolution:

    fine      faxcast Resolution.FINE        gs -sDEVICE=tiffg4 -r204x196 -g1728x2292
    standard  faxcast Resolution.STANDARD    gs -sDEVICE=tiffg4 -r204x98  -g1728x1146
              (gs always with -dFIXEDMEDIA -dPDFFitPage, as in shared/SPANDSP-NOTES.md)

faxcast sends a page at its true size (A4: 1687 px wide, centred, 2292 rows at fine), scaled
down only when wider than the 1728 px scan line (US Letter: 2149 rows), so its pages are not all
as long as gs's fixed media: the "rows" column gives faxcast's total rows against gs's, in per
cent. The "page sizes" table compares, on each upload's first page, the page length and the
height of what is drawn on it (first mark to last), faxcast against gs, in rows and mm.

Two workloads, each rendered N times per engine and resolution (default 5; runs alternate which
engine goes first), the least time of the N kept:

    (a) upload    six typical fax documents from the corpus (1 to 4 pages, 10 pages in all), one
                  run per document, as a user upload is rendered. gs is one process per document
                  and its time INCLUDES the process start: that is the real cost of using gs per
                  upload. faxcast's render_pdf runs PDFium in its long-lived child process,
                  as the server does (documents/isolated.py): the child's start is paid once,
                  not per upload; the pages' transfer back (about 1 ms a page) is counted.
                  Its CPU column is this process's only: the child's CPU is not in it.
    (b) long      long documents, where gs's start-up is amortised (steady-state pages per s):
                  letter-51-pages.pdf (51 near-empty Letter pages, the corpus's longest), text-50
                  (a4-4pages-pdflatex x 12 + both one-page A4 text PDFs) and mixed-50 (the six
                  documents of (a) x 5, including the scanned pages), the last two concatenated
                  with pypdfium2 into the temp dir. faxcast uses DocumentLimits(max_pages=100).

Both sides read the PDF from a file and write the TIFF to a file. The figures:

    ms / (CPU)    least wall time (time.perf_counter) and least CPU time of the N runs: faxcast
                  time.process_time() in this process; gs resource.getrusage(RUSAGE_CHILDREN)
                  user + system deltas around the child
    p/s           pages per second of wall time
    x wall, x CPU faxcast's speed-up: gs time / faxcast time (= faxcast p/s / gs p/s); the
                  issue's target is at least 3 ("!" marks a miss)
    all 6 docs    (a) summed: total pages / total of the per-document least times

After each run a second faxcast run goes step by step (not in the figures above) to show where
faxcast's time goes: PDFium (open, parse, draw, close), bilevel conversion, G4 encoding. Its
"x ceiling" is gs's wall time over PDFium's part alone: the most faxcast could reach with a
free bilevel conversion and encoder.

Every output of every run is checked: `tiffinfo -D` (decodes every strip) must exit 0 with no
error text on stderr (warnings are listed), every page 1728 px wide, and the page count must be
the PDF's on both sides; each case's first outputs also go through faxcast's own pre-send check,
read_tiff_f. The verdict lines judge wall time, CPU in brackets. Exit 0 whatever the speed-up (a
measurement), 1 if any output failed a check.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pypdfium2 as pdfium
from PIL import Image, features

from faxcast.documents import (
    DocumentLimits,
    FaxDocument,
    FaxPage,
    read_tiff_f,
    render_pdf,
    write_tiff_f,
)
from faxcast.documents._tiffg4 import ffi as tiffg4_ffi
from faxcast.documents._tiffg4 import lib as tiffg4_lib
from faxcast.documents.bilevel import to_bilevel
from faxcast.documents.pdf import _opened, _render_page
from faxcast.domain.quality import Resolution
from faxcast.errors import DocumentError
from line_time import report as line_time_report

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
CORPUS_ENV = "FAXCAST_PDF_CORPUS"
CORPUS_FALLBACKS = (REPO.parent / "shared" / "corpus" / "pdfs", Path("/work/shared/corpus/pdfs"))

TARGET = 3.0
DEFAULT_REPEAT = 5
MAX_REPEAT = 50
LIMITS = DocumentLimits(max_pages=100)
FAX_WIDTH = 1728
SUBPROCESS_TIMEOUT_S = 300.0

UPLOADS = (
    "a4-text-pdflatex.pdf",
    "a4-text-libreoffice.pdf",
    "a4-4pages-pdflatex.pdf",
    "letter-form-pdflatex.pdf",
    "a4-scanned-form-jpeg.pdf",
    "letter-vector-chart-nonembedded-fonts.pdf",
)
LONG_CORPUS = "letter-51-pages.pdf"
TEXT_4PAGES = "a4-4pages-pdflatex.pdf"
TEXT_1PAGE = ("a4-text-pdflatex.pdf", "a4-text-libreoffice.pdf")
TEXT_4PAGES_COPIES = 12  # 12 x 4 + 2 = 50 pages
MIXED_COPIES = 5  # 5 x 10 = 50 pages


@dataclass(frozen=True)
class Setting:
    """One resolution: faxcast's enum and gs's matching device arguments."""

    name: str
    resolution: Resolution
    gs_args: tuple[str, ...]
    gs_rows: int


SETTINGS = (
    Setting("fine", Resolution.FINE, ("-r204x196", "-g1728x2292"), 2292),
    Setting("standard", Resolution.STANDARD, ("-r204x98", "-g1728x1146"), 1146),
)


@dataclass(frozen=True)
class Case:
    """One PDF to render, in workload (a) upload or (b) long."""

    label: str
    path: Path
    pages: int
    long: bool


@dataclass(frozen=True)
class Timing:
    """One run: wall and CPU seconds."""

    wall_s: float
    cpu_s: float


@dataclass
class Tally:
    """The runs of one case, engine and resolution, and the rows of its (checked) output."""

    runs: list[Timing]
    rows: int = 0

    def best(self) -> Timing:
        return Timing(min(r.wall_s for r in self.runs), min(r.cpu_s for r in self.runs))


Tallies = dict[tuple[str, str, str], Tally]
"""Keyed by resolution name, case label and engine ("faxcast" or "gs")."""


@dataclass(frozen=True)
class Split:
    """One faxcast run timed step by step, wall s: what PDFium costs, and what we add."""

    pdfium_s: float
    bilevel_s: float
    g4_s: float


Splits = dict[tuple[str, str], list[Split]]
"""Keyed by resolution name and case label."""


@dataclass
class Checks:
    """Failures (exit 1) and notes (printed) gathered along the way."""

    failures: list[str]
    notes: list[str]

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)


# ---------------------------------------------------------------------------- the documents


def find_corpus() -> Path:
    """The corpus directory: $FAXCAST_PDF_CORPUS, else the shared checkout's, else /work's."""
    env = os.environ.get(CORPUS_ENV)
    candidates = (Path(env),) if env else CORPUS_FALLBACKS
    for candidate in candidates:
        if (candidate / "cases.json").is_file():
            return candidate
    where = ", ".join(str(c) for c in candidates)
    sys.exit(f"render bench: no PDF corpus (cases.json) found at {where}; set ${CORPUS_ENV}")


def page_count(path: Path) -> int:
    """Pages in a PDF as PDFium counts them (the reference both engines must match)."""
    pdf = pdfium.PdfDocument(str(path))
    try:
        return len(pdf)
    finally:
        pdf.close()


def concatenate(sources: list[Path], target: Path) -> None:
    """Write the sources' pages, in order, into one new PDF."""
    out = pdfium.PdfDocument.new()
    opened = [pdfium.PdfDocument(str(source)) for source in sources]
    try:
        for pdf in opened:
            out.import_pages(pdf)
        out.save(str(target))
    finally:
        for pdf in opened:
            pdf.close()
        out.close()


def make_cases(corpus: Path, workdir: Path) -> list[Case]:
    """The (a) uploads and (b) long documents, concatenated ones written into workdir."""
    needed = (*UPLOADS, LONG_CORPUS)
    missing = [name for name in needed if not (corpus / name).is_file()]
    if missing:
        sys.exit(f"render bench: missing from the corpus {corpus}: {', '.join(missing)}")
    cases = [Case(name, corpus / name, page_count(corpus / name), long=False) for name in UPLOADS]
    text_50 = workdir / "text-50.pdf"
    concatenate(
        [corpus / TEXT_4PAGES] * TEXT_4PAGES_COPIES + [corpus / name for name in TEXT_1PAGE],
        text_50,
    )
    mixed_50 = workdir / "mixed-50.pdf"
    concatenate([corpus / name for name in UPLOADS] * MIXED_COPIES, mixed_50)
    for label, path in (
        (LONG_CORPUS, corpus / LONG_CORPUS),
        ("text-50 (concatenated)", text_50),
        ("mixed-50 (concatenated)", mixed_50),
    ):
        cases.append(Case(label, path, page_count(path), long=True))
    return cases


# ---------------------------------------------------------------------------- the engines


def run_faxcast(case: Case, setting: Setting, output: Path) -> tuple[Timing, list[int]]:
    """Read, render, encode and write in this process; returns the timing and page heights."""
    gc.collect()  # the previous run's pages go now, not inside the timing
    wall = time.perf_counter()
    cpu = time.process_time()
    document = render_pdf(case.path.read_bytes(), setting.resolution, limits=LIMITS)
    output.write_bytes(write_tiff_f(document))
    timing = Timing(time.perf_counter() - wall, time.process_time() - cpu)
    return timing, [page.rows for page in document.pages]


def run_split(case: Case, setting: Setting) -> Split:
    """render_pdf and write_tiff_f step by step, each step timed (the checks left out)."""
    gc.collect()
    data = case.path.read_bytes()
    resolution = setting.resolution
    pdfium_s = bilevel_s = 0.0
    pages = []
    start = time.perf_counter()
    with _opened(data) as pdf:
        for index in range(len(pdf)):
            grey = _render_page(pdf, index, resolution)
            drawn = time.perf_counter()
            pages.append(FaxPage(to_bilevel(grey).tobytes(), resolution))
            done = time.perf_counter()
            pdfium_s += drawn - start
            bilevel_s += done - drawn
            start = done
    encode = time.perf_counter()
    pdfium_s += encode - start  # closing the document
    write_tiff_f(FaxDocument(tuple(pages), resolution))
    return Split(pdfium_s, bilevel_s, time.perf_counter() - encode)


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def gs_command(gs: str, source: Path, setting: Setting, output: Path) -> list[str]:
    """The reference command of SPANDSP-NOTES.md."""
    return [
        gs,
        "-q",
        "-dSAFER",
        "-dBATCH",
        "-dNOPAUSE",
        "-sDEVICE=tiffg4",
        *setting.gs_args,
        "-dFIXEDMEDIA",
        "-dPDFFitPage",
        f"-sOutputFile={output}",
        str(source),
    ]


def run_gs(gs: str, case: Case, setting: Setting, output: Path, checks: Checks) -> Timing:
    """One Ghostscript process, start-up included; its own output text is kept as a note."""
    command = gs_command(gs, case.path, setting, output)
    cpu = _children_cpu_s()
    wall = time.perf_counter()
    done = subprocess.run(
        command, capture_output=True, text=True, check=False, timeout=SUBPROCESS_TIMEOUT_S
    )
    timing = Timing(time.perf_counter() - wall, _children_cpu_s() - cpu)
    if done.returncode != 0:
        sys.exit(f"render bench: gs failed ({done.returncode}) on {case.label}: {done.stderr}")
    said = " ".join((done.stdout + done.stderr).split())
    if said:
        checks.note(f"gs on {case.label}: {said[:160]}")
    return timing


def least_of(repeat: int, run: Callable[[], float]) -> float:
    """The least of `repeat` wall times, for the informative start-up figures."""
    return min(run() for _ in range(repeat))


def startup_costs(gs: str, repeat: int) -> tuple[float, float]:
    """Wall s of a gs that renders nothing, and of a fresh Python importing faxcast.documents."""

    def timed(command: list[str]) -> float:
        wall = time.perf_counter()
        subprocess.run(command, capture_output=True, check=True, timeout=SUBPROCESS_TIMEOUT_S)
        return time.perf_counter() - wall

    gs_quit = [gs, "-q", "-dSAFER", "-dBATCH", "-dNOPAUSE", "-sDEVICE=tiffg4"]
    gs_quit += ["-sOutputFile=/dev/null", "-c", "quit"]
    python = [sys.executable, "-c", "import faxcast.documents"]
    return least_of(repeat, lambda: timed(gs_quit)), least_of(repeat, lambda: timed(python))


# ---------------------------------------------------------------------------- the checks

_DIRECTORY = re.compile(r"Image Width: (\d+) Image Length: (\d+)")


def check_tiff(
    tiffinfo: str, output: Path, what: str, pages: int, checks: Checks, *, deep: bool
) -> list[int]:
    """tiffinfo -D decodes every page; returns the page heights (empty if the file failed)."""
    done = subprocess.run(
        [tiffinfo, "-D", str(output)],
        capture_output=True,
        text=True,
        check=False,
        timeout=SUBPROCESS_TIMEOUT_S,
    )
    errors = [line for line in done.stderr.splitlines() if line.strip()]
    warnings = [line for line in errors if "warning" in line.lower()]
    for line in warnings:
        checks.note(f"tiffinfo warning on {what}: {line.strip()}")
    errors = [line for line in errors if line not in warnings]
    if done.returncode != 0 or errors:
        detail = "; ".join(errors[:3]) or "no message"
        checks.failures.append(f"{what}: tiffinfo -D exit {done.returncode}: {detail}")
        return []
    sizes = [(int(w), int(h)) for w, h in _DIRECTORY.findall(done.stdout)]
    if len(sizes) != pages:
        checks.failures.append(f"{what}: {len(sizes)} pages in the TIFF, the PDF has {pages}")
    if any(width != FAX_WIDTH for width, _ in sizes):
        checks.failures.append(f"{what}: a page is not {FAX_WIDTH} px wide: {sizes[:3]}")
    if deep:
        try:
            read_tiff_f(output.read_bytes())
        except DocumentError as error:
            checks.failures.append(f"{what}: faxcast's read_tiff_f refuses it: {error}")
    return [height for _, height in sizes]


# ---------------------------------------------------------------------------- the report


def _ratio(gs_s: float, faxcast_s: float) -> float:
    return gs_s / faxcast_s if faxcast_s > 0 else float("inf")


def _mark(ratio: float) -> str:
    return f"{ratio:>6.2f}{' ' if ratio >= TARGET else '!'}"


HEADER = (
    f"{'document':<46} {'pages':>5} {'rows':>6}  {'faxcast ms':>10} {'(CPU)':>8}  "
    f"{'gs ms':>8} {'(CPU)':>8}  {'fc p/s':>7} {'gs p/s':>7}  {'x wall':>7} {'x CPU':>7}"
)


def row(label: str, pages: int, rows: str, faxcast: Timing, gs: Timing) -> str:
    """One line of the table."""
    return (
        f"{label:<46} {pages:>5} {rows:>6}  {faxcast.wall_s * 1e3:>10.1f} "
        f"{faxcast.cpu_s * 1e3:>8.1f}  {gs.wall_s * 1e3:>8.1f} {gs.cpu_s * 1e3:>8.1f}  "
        f"{pages / faxcast.wall_s:>7.1f} {pages / gs.wall_s:>7.1f}  "
        f"{_mark(_ratio(gs.wall_s, faxcast.wall_s))} {_mark(_ratio(gs.cpu_s, faxcast.cpu_s))}"
    )


def _rows(faxcast_rows: int, gs_rows: int) -> str:
    if faxcast_rows <= 0 or gs_rows <= 0:
        return "?"
    return f"{(faxcast_rows / gs_rows - 1) * 100:+.1f}%"


def verdict(what: str, faxcast: Timing, gs: Timing) -> str:
    """met / NOT MET on wall time, CPU alongside."""
    wall = _ratio(gs.wall_s, faxcast.wall_s)
    cpu = _ratio(gs.cpu_s, faxcast.cpu_s)
    state = "met" if wall >= TARGET else "NOT MET"
    return (
        f"verdict {what:<44} faxcast {wall:.2f}x gs wall (CPU {cpu:.2f}x): "
        f"target >= {TARGET:.0f}x {state}"
    )


def sum_timings(timings: list[Timing]) -> Timing:
    """Timings added up, for a workload made of several documents."""
    return Timing(sum(t.wall_s for t in timings), sum(t.cpu_s for t in timings))


# ---------------------------------------------------------------------------------- main


@dataclass(frozen=True)
class Tools:
    """The two programs the bench runs, and the temp dir the TIFFs go to."""

    gs: str
    tiffinfo: str
    workdir: Path


def measure_once(
    tools: Tools,
    case: Case,
    number: int,
    setting: Setting,
    attempt: int,
    tallies: Tallies,
    splits: Splits,
    checks: Checks,
) -> None:
    """One run of each engine on one case, alternating which goes first, each output checked;
    then one faxcast run timed step by step."""
    key = (setting.name, case.label)
    deep = attempt == 0
    order = ("faxcast", "gs") if attempt % 2 == 0 else ("gs", "faxcast")
    for engine in order:
        tally = tallies.setdefault((*key, engine), Tally([]))
        output = tools.workdir / f"{engine}-{setting.name}-{number}.tif"
        what = f"{engine} {setting.name} {case.label}"
        if engine == "faxcast":
            timing, heights = run_faxcast(case, setting, output)
            tiff_heights = check_tiff(tools.tiffinfo, output, what, case.pages, checks, deep=deep)
            if tiff_heights and tiff_heights != heights:
                checks.failures.append(f"{what}: page heights differ in the TIFF")
        else:
            timing = run_gs(tools.gs, case, setting, output, checks)
            heights = check_tiff(tools.tiffinfo, output, what, case.pages, checks, deep=deep)
            if any(height != setting.gs_rows for height in heights):
                checks.failures.append(f"{what}: not {setting.gs_rows} rows")
        tally.runs.append(timing)
        tally.rows = sum(heights)
    splits.setdefault(key, []).append(run_split(case, setting))


def report(setting: Setting, cases: list[Case], tallies: Tallies) -> list[str]:
    """Print one resolution's table; return its verdict lines."""
    dpi = "x".join(str(d) for d in setting.resolution.dpi)
    print()
    print(f"{setting.name} ({dpi} dpi)")
    print(HEADER)
    print("-" * len(HEADER))
    verdicts: list[str] = []
    uploads: list[tuple[Tally, Tally]] = []
    pages = 0
    for long in (False, True):
        for case in cases:
            if case.long != long:
                continue
            faxcast = tallies[(setting.name, case.label, "faxcast")]
            gs_run = tallies[(setting.name, case.label, "gs")]
            rows = _rows(faxcast.rows, gs_run.rows)
            label = f"({'b' if long else 'a'}) {case.label}"
            print(row(label, case.pages, rows, faxcast.best(), gs_run.best()))
            if long:
                what = f"{setting.name} (b) {case.label}:"
                verdicts.append(verdict(what, faxcast.best(), gs_run.best()))
            else:
                uploads.append((faxcast, gs_run))
                pages += case.pages
        if not long:
            total_fc = sum_timings([fc.best() for fc, _ in uploads])
            total_gs = sum_timings([gs_run.best() for _, gs_run in uploads])
            rows = _rows(sum(fc.rows for fc, _ in uploads), sum(g.rows for _, g in uploads))
            label = f"(a) all {len(uploads)} docs, one run each"
            print(row(label, pages, rows, total_fc, total_gs))
            what = f"{setting.name} (a) uploads, per document:"
            verdicts.insert(0, verdict(what, total_fc, total_gs))
            print("-" * len(HEADER))
    return verdicts


@dataclass(frozen=True)
class Drawn:
    """A first page as rendered: its length, and the rows from its first mark to its last."""

    rows: int
    ink_rows: int


def first_page(output: Path) -> Drawn:
    """The length and inked height of a TIFF's first page."""
    with Image.open(output) as image:
        ink = np.asarray(image.convert("L")) < 128
    marked = np.flatnonzero(ink.any(axis=1))
    return Drawn(ink.shape[0], int(marked[-1] - marked[0] + 1) if marked.size else 0)


def report_sizes(sizes: dict[tuple[str, str], tuple[Drawn, Drawn]]) -> None:
    """Which engine draws each upload's first page larger, by how many rows and mm."""
    print()
    print("page sizes, first page of each upload: page length and drawn height (first mark to")
    print("last), faxcast against gs's fixed media; + means faxcast's is larger")
    for (name, label), (faxcast, gs) in sizes.items():
        setting = next(s for s in SETTINGS if s.name == name)
        mm_per_row = 25.4 / setting.resolution.dpi[1]
        drawn = faxcast.ink_rows - gs.ink_rows
        print(
            f"{name:<9} {label:<44} page {faxcast.rows:>5} / {gs.rows:>5} rows "
            f"({faxcast.rows * mm_per_row:5.1f} / {gs.rows * mm_per_row:5.1f} mm)  drawn "
            f"{faxcast.ink_rows:>5} / {gs.ink_rows:>5} rows: {drawn:+d} rows, "
            f"{drawn * mm_per_row:+.1f} mm"
        )


def least_split(runs: list[Split]) -> Split:
    """Each step's least time over the runs."""
    return Split(
        min(r.pdfium_s for r in runs), min(r.bilevel_s for r in runs), min(r.g4_s for r in runs)
    )


def report_splits(cases: list[Case], tallies: Tallies, splits: Splits) -> None:
    """Where faxcast's time goes, and the speed-up PDFium alone would leave room for."""
    print()
    print(
        "where faxcast's time goes (ms, least of the runs; PDFium: open, parse, draw and close "
        "the pages; bilevel: grey to packed bits; G4: libtiff writing the TIFF-F);\n"
        "x ceiling: gs wall / PDFium's part alone, the most faxcast can reach while PDFium draws"
    )
    for setting in SETTINGS:
        groups = [("(a) all uploads", [c for c in cases if not c.long])]
        groups += [(f"(b) {c.label}", [c]) for c in cases if c.long]
        for label, members in groups:
            parts = [least_split(splits[(setting.name, c.label)]) for c in members]
            pdfium_s = sum(p.pdfium_s for p in parts)
            gs_s = sum(tallies[(setting.name, c.label, "gs")].best().wall_s for c in members)
            print(
                f"{setting.name:<9} {label:<36} PDFium {pdfium_s * 1e3:7.1f}  "
                f"bilevel {sum(p.bilevel_s for p in parts) * 1e3:6.1f}  "
                f"G4 {sum(p.g4_s for p in parts) * 1e3:6.1f}  "
                f"x ceiling {_ratio(gs_s, pdfium_s):5.2f}"
            )


def _system_libtiff() -> str:
    """The version of the libtiff faxcast writes with ("LIBTIFF, Version 4.5.0\n...")."""
    banner: bytes = tiffg4_ffi.string(tiffg4_lib.TIFFGetVersion())
    return banner.decode().splitlines()[0].rsplit(" ", 1)[-1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--repeat", type=int, default=DEFAULT_REPEAT, help=f"runs per case ({DEFAULT_REPEAT})"
    )
    parser.add_argument(
        "--line-time", action="store_true", help="line time and OCR per page, not throughput"
    )
    args = parser.parse_args()
    repeat = max(1, min(int(args.repeat), MAX_REPEAT))
    gs = shutil.which("gs")
    tiffinfo = shutil.which("tiffinfo")
    if gs is None or tiffinfo is None:
        sys.exit("render bench: needs Ghostscript (gs) and libtiff-tools (tiffinfo) on PATH")
    corpus = find_corpus()
    if args.line_time:
        problems = line_time_report(corpus, gs)
        for problem in problems:
            print(f"FAILED: {problem}", file=sys.stderr)
        return 1 if problems else 0
    gs_version = subprocess.run(
        [gs, "--version"], capture_output=True, text=True, check=True, timeout=60
    ).stdout.strip()
    print(
        f"Python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs; "
        f"Ghostscript {gs_version}; PDFium {pdfium.PDFIUM_INFO}; "
        f"libtiff {_system_libtiff()} "
        f"(writes); Pillow {features.version('pil')} with libtiff {features.version('libtiff')} "
        "(reads)"
    )
    print(f"corpus: {corpus}; runs per case, engine and resolution: {repeat}, least kept")

    checks = Checks(failures=[], notes=[])
    tallies: Tallies = {}
    splits: Splits = {}
    with tempfile.TemporaryDirectory(prefix="faxcast-render-bench-") as tmp:
        tools = Tools(gs, tiffinfo, Path(tmp))
        cases = make_cases(corpus, tools.workdir)
        gs_start, py_start = startup_costs(gs, repeat)
        for attempt in range(repeat):
            for setting in SETTINGS:
                for number, case in enumerate(cases):
                    measure_once(tools, case, number, setting, attempt, tallies, splits, checks)
        sizes = {
            (setting.name, case.label): (
                first_page(tools.workdir / f"faxcast-{setting.name}-{number}.tif"),
                first_page(tools.workdir / f"gs-{setting.name}-{number}.tif"),
            )
            for setting in SETTINGS
            for number, case in enumerate(cases)
            if not case.long
        }

    print(
        f"start-up, not in the figures below: gs rendering nothing {gs_start * 1e3:.0f} ms wall "
        f"(paid by every gs run); a fresh Python importing faxcast.documents "
        f"{py_start * 1e3:.0f} ms (paid once per server process)"
    )
    print(
        "rows: faxcast's total page rows against gs's. faxcast sends pages at their true size, "
        "scaled down to 1728 px if wider\n(A4 fine 2292 rows, Letter 2149); gs renders fixed media "
        "1728x2292 (fine) or 1728x1146 (standard) with -dPDFFitPage."
    )
    verdicts = [line for setting in SETTINGS for line in report(setting, cases, tallies)]
    report_sizes(sizes)
    report_splits(cases, tallies, splits)
    print()
    print(
        f"x wall / x CPU: gs time / faxcast time, target >= {TARGET:.0f} ('!' = below); "
        "ms: least of the runs; p/s: pages per wall s"
    )
    for line in verdicts:
        print(line)
    for note in checks.notes:
        print(f"note: {note}")
    if checks.failures:
        for failure in checks.failures:
            print(f"FAILED: {failure}", file=sys.stderr)
        return 1
    print(f"outputs: every TIFF of every run decoded by tiffinfo -D, pages match ({repeat} runs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
