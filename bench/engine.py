"""How much CPU the Python fax engine costs per call, against the same loopback written in C.

Run by hand, from the repository root, with faxcast installed (editable) and gcc, Ghostscript,
libspandsp-dev and libtiff-dev present:

    python bench/engine.py [--repeat N]

It writes a 3-page A4 letter as PostScript, renders it with Ghostscript into a G4 TIFF-F at fine
resolution (204x196 dpi, 1728x2292 px), compiles bench/engine_loopback.c against libspandsp into
a temp dir, then faxes the TIFF from a sender to a receiver in memory, N times per case (default
10), alternating the Python engine (faxcast.fax.loopback.loopback) and the C program:

    audio-ecm     G.711 A-law audio, 160-sample frames, quality "high", ECM on
    audio-noecm   the same without ECM
    t38-paced     T.38 IFP packets, terminals pacing themselves in real time, ECM on
    t38-unpaced   T.38 with T38_TERMINAL_OPTION_NO_PACING on both ends, ECM on

The figures:
    line s        the sender's call duration in simulated line time (FaxResult.duration_s)
    CPU s         the least CPU time of the N runs, both ends of the call together:
                  time.process_time() around loopback() for Python; the C program's own
                  CLOCK_PROCESS_CPUTIME_ID around its loopback (process start excluded)
    Py/C          Python CPU / C CPU; the target is at most 1.2 ("!" marks a miss)
    ch/core       line s per CPU s: how many such calls (both ends) one core carries in real
                  time, i.e. real-time channels per core

It also prints each end's T.30 completion code and pages, and exits 1 if any call, Python or
C, did not deliver every page with both ends reporting OK.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import platform
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

from faxcast.domain.codec import Codec
from faxcast.domain.quality import Quality
from faxcast.domain.retry import call_cap_s
from faxcast.domain.station import StationIdentity
from faxcast.errors import FaxError
from faxcast.fax import loopback
from faxcast.fax._spandsp_build import SOURCE as GLUE_SOURCE
from faxcast.fax.engine import Outgoing
from faxcast.fax.result import T30Code

HERE = Path(__file__).resolve().parent
C_SOURCE = HERE / "engine_loopback.c"
IDENT = "+33 1 00 00 00 00"  # the C program uses the same, on both ends, and no page header
IDENTITY = StationIdentity(IDENT)
PAGES = 3
TARGET_RATIO = 1.2
C_MAX_LINE_S = 600.0  # the C program's own cap; it is given the Python engine's (smaller) one
SUBPROCESS_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class Case:
    """One loopback configuration; `name` is also the C program's mode argument."""

    name: str
    t38: bool
    paced: bool
    ecm: bool


CASES = (
    Case("audio-ecm", t38=False, paced=False, ecm=True),
    Case("audio-noecm", t38=False, paced=False, ecm=False),
    Case("t38-paced", t38=True, paced=True, ecm=True),
    Case("t38-unpaced", t38=True, paced=False, ecm=True),
)


@dataclass(frozen=True)
class Run:
    """One call by one implementation: CPU, line time and both ends' verdicts."""

    cpu_s: float
    line_s: float
    sender: str  # code text, pages
    receiver: str
    ok: bool
    detail: str = ""
    completed: bool = True  # False: the engine gave up with an error, cpu_s/line_s mean nothing


# ---------------------------------------------------------------------------- the document

_SENTENCES = (
    "Thank you for your letter of last month and for the documents that came with it.",
    "We have reviewed the delivery schedule with our logistics team and can confirm the dates.",
    "The first consignment will leave our warehouse in Lyon on the morning of the 14th.",
    "Please note that the invoice reference must appear on every page you return to us.",
    "Our accounts department asks that payment be made within thirty days of receipt.",
    "Should any item arrive damaged, kindly inform us by fax within forty-eight hours.",
    "The technical specifications you requested are attached as an annex to this letter.",
    "We remain at your disposal for any further information regarding the contract terms.",
    "A copy of the signed agreement has been filed with the notary as agreed on the phone.",
    "The revised price list takes effect from the first day of the next quarter.",
    "Our engineer will visit your premises to inspect the installation before handover.",
    "We would be grateful if you could sign and return the enclosed acknowledgement form.",
    "Unfortunately, the model 42-B is no longer manufactured; we propose the 42-C instead.",
    "Delivery charges are included for orders above the threshold stated in section 4.",
    "The warranty covers parts and labour for twenty-four months from the date of delivery.",
)


def _ps_string(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    return f"({escaped})"


_TEXT_TOP = 790.0  # points; the page is 1728x2292 px at 204x196 dpi, 610 x 842 pt
_TEXT_BOTTOM = 50.0
_LEADING = 1.25


def _height(lines: list[tuple[str, int, str]]) -> float:
    return sum(size * _LEADING for _, size, _ in lines)


def letter_postscript(pages: int = PAGES) -> str:
    """A business letter in Helvetica: heading, address, about fifty lines of text a page."""
    out = ["%!PS-Adobe-3.0", f"%%Pages: {pages}", "%%EndComments"]
    sentence = 0
    for page in range(1, pages + 1):
        out.append(f"%%Page: {page} {page}")
        lines: list[tuple[str, int, str]] = []  # font, size, text
        if page == 1:
            lines += [
                ("Helvetica-Bold", 18, "ACME Industrial Supplies S.A."),
                ("Helvetica", 10, "12 rue de la Republique, 69002 Lyon, France"),
                ("Helvetica", 10, "Tel +33 1 00 00 00 00   Fax +33 1 00 00 00 00"),
                ("Helvetica", 11, ""),
                ("Helvetica", 11, "Mr. J. Smith, Purchasing Department"),
                ("Helvetica", 11, "Northwind Trading Ltd., 221 High Street, Leeds LS1 4AB"),
                ("Helvetica", 11, ""),
                ("Helvetica", 11, "Lyon, 3 March 2025"),
                ("Helvetica-Bold", 12, "Subject: order 2025-0117, delivery and terms"),
                ("Helvetica", 11, ""),
                ("Helvetica", 11, "Dear Mr. Smith,"),
            ]
        else:
            lines.append(("Helvetica-Bold", 12, f"Order 2025-0117, continued (page {page})"))
        closing = [
            ("Helvetica", 11, "Yours sincerely,"),
            ("Helvetica", 11, ""),
            ("Helvetica-Bold", 11, "Marie Dupont, Sales Manager"),
        ]
        room = _TEXT_TOP - _TEXT_BOTTOM - (_height(closing) if page == pages else 0.0)
        while _height(lines) < room:
            paragraph = " ".join(
                _SENTENCES[(sentence + k) % len(_SENTENCES)] for k in range(3 + page % 2)
            )
            sentence += 4
            lines += [("Helvetica", 11, text) for text in textwrap.wrap(paragraph, 90)]
            lines.append(("Helvetica", 11, ""))
        while _height(lines) > room:
            lines.pop()
        if page == pages:
            lines += closing
        y = _TEXT_TOP
        for font, size, text in lines:
            if text:
                out.append(f"/{font} findfont {size} scalefont setfont")
                out.append(f"60 {y:.1f} moveto {_ps_string(text)} show")
            y -= size * _LEADING
        out.append("/Helvetica findfont 9 scalefont setfont")
        out.append(f"280 30 moveto {_ps_string(f'Page {page} of {pages}')} show")
        out.append("showpage")
    out.append("%%EOF")
    return "\n".join(out) + "\n"


def make_document(workdir: Path) -> Path:
    """Render the letter into a G4 TIFF-F at fine resolution with Ghostscript."""
    gs = shutil.which("gs")
    if gs is None:
        sys.exit("Ghostscript (gs) is needed to make the test document")
    source = workdir / "letter.ps"
    source.write_text(letter_postscript(), encoding="ascii")
    tiff = workdir / "letter.tif"
    subprocess.run(
        [
            gs,
            "-q",
            "-dSAFER",
            "-dBATCH",
            "-dNOPAUSE",
            "-sDEVICE=tiffg4",
            "-r204x196",
            "-g1728x2292",
            "-dFIXEDMEDIA",
            f"-sOutputFile={tiff}",
            str(source),
        ],
        check=True,
        timeout=SUBPROCESS_TIMEOUT_S,
    )
    return tiff


# ------------------------------------------------------------------------ the two engines


def compile_c(workdir: Path) -> Path:
    """Build bench/engine_loopback.c against the system libspandsp."""
    binary = workdir / "engine_loopback"
    source = workdir / C_SOURCE.name
    source.write_text(C_SOURCE.read_text())
    (workdir / "faxcast_glue.c").write_text(GLUE_SOURCE)
    subprocess.run(
        ["gcc", "-O2", "-Wall", "-o", str(binary), str(source), "-lspandsp", "-ltiff", "-lm"],
        check=True,
        timeout=SUBPROCESS_TIMEOUT_S,
    )
    return binary


def _error_run(message: str) -> Run:
    return Run(cpu_s=0.0, line_s=0.0, sender=message, receiver="-", ok=False, completed=False)


def run_python(case: Case, document: Outgoing, received: Path) -> Run:
    """One call through faxcast.fax.loopback, timed with time.process_time()."""
    profile = dataclasses.replace(Quality.HIGH.profile, ecm=case.ecm)
    gc.collect()  # the previous run's sessions (a cycle through their cffi handle) go now
    start = time.process_time()
    try:
        result = loopback.loopback(
            document,
            received,
            profile,
            t38=case.t38,
            paced=case.paced,
            sender_identity=IDENTITY,
            receiver_identity=IDENTITY,
            codec=Codec.PCMA,
        )
    except FaxError as error:
        return _error_run(f"FaxError: {error}")
    cpu = time.process_time() - start
    tx, rx = result.sender, result.receiver
    ok = tx.success and rx.success and tx.pages_confirmed == PAGES and rx.pages_transferred == PAGES
    return Run(
        cpu_s=cpu,
        line_s=tx.duration_s,
        sender=f"{tx.code.name} ({tx.code_text}), {tx.pages_transferred} sent, "
        f"{tx.pages_confirmed} confirmed",
        receiver=f"{rx.code.name} ({rx.code_text}), {rx.pages_transferred} received",
        ok=ok,
        detail=f"{tx.bit_rate} bit/s, ECM {'on' if tx.ecm else 'off'}",
    )


def run_c(binary: Path, case: Case, document: Path, received: Path, cap_s: float) -> Run:
    """One call through the C program, which reports its own loopback CPU time."""
    done = subprocess.run(
        [str(binary), case.name, str(document), str(received), f"{min(cap_s, C_MAX_LINE_S)}"],
        capture_output=True,
        text=True,
        check=False,
        timeout=SUBPROCESS_TIMEOUT_S,
    )
    out = dict(line.split("=", 1) for line in done.stdout.splitlines() if "=" in line)
    if done.returncode == 3 and "error" in out:
        return _error_run(out["error"])
    if done.returncode != 0:
        sys.exit(f"{binary.name} {case.name} failed ({done.returncode}): {done.stderr.strip()}")
    ok_code = str(int(T30Code.OK))
    ok = (
        out["tx_code"] == ok_code
        and out["rx_code"] == ok_code
        and int(out["tx_pages_tx"]) == PAGES
        and int(out["tx_confirmed"]) == PAGES
        and int(out["rx_pages_rx"]) == PAGES
    )
    return Run(
        cpu_s=float(out["cpu_s"]),
        line_s=float(out["line_s"]),
        sender=f"{T30Code(int(out['tx_code'])).name} ({out['tx_code_text']}), "
        f"{out['tx_pages_tx']} sent, {out['tx_confirmed']} confirmed",
        receiver=f"{T30Code(int(out['rx_code'])).name} ({out['rx_code_text']}), "
        f"{out['rx_pages_rx']} received",
        ok=ok,
        detail=f"{out['tx_bit_rate']} bit/s, ECM {'on' if out['tx_ecm'] == '1' else 'off'}, "
        f"{out['steps']} steps of 160 samples, IFP packets tx->rx {out['tx_packets']} "
        f"rx->tx {out['rx_packets']}",
    )


# ---------------------------------------------------------------------------------- report


def _fmt(value: float | None, width: int, decimals: int) -> str:
    return f"{'error':>{width}}" if value is None else f"{value:>{width}.{decimals}f}"


def _ratio(python: float | None, c: float | None) -> str:
    if python is None or c is None or c <= 0:
        return f"{'-':>6} "
    ratio = python / c
    return f"{ratio:>6.2f}{'!' if ratio > TARGET_RATIO else ' '}"


def _channels(line_s: float | None, cpu_s: float | None) -> str:
    if line_s is None or cpu_s is None or cpu_s <= 0:
        return f"{'-':>10}"
    return f"{line_s / cpu_s:>10,.0f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--repeat", type=int, default=10, help="runs per case and engine (10)")
    args = parser.parse_args()
    repeat = max(1, min(int(args.repeat), 50))

    print(f"Python {platform.python_version()} on {platform.machine()}, {platform.node()}")
    with tempfile.TemporaryDirectory(prefix="faxcast-bench-") as tmp:
        workdir = Path(tmp)
        tiff = make_document(workdir)
        document = Outgoing.from_file(tiff)
        if document.pages != PAGES:
            sys.exit(f"the test document has {document.pages} pages, not {PAGES}")
        binary = compile_c(workdir)
        cap_s = call_cap_s(document.page_bits, Quality.HIGH.profile)
        print(
            f"document: {tiff.stat().st_size} bytes, {document.pages} pages "
            f"{document.resolution.value} {document.resolution.dpi}; "
            f"{repeat} runs per case, Python cap {cap_s:.0f} line s"
        )

        runs: dict[tuple[str, str], list[Run]] = {}
        for _ in range(repeat):
            for case in CASES:
                runs.setdefault((case.name, "Python"), []).append(
                    run_python(case, document, workdir / f"py-{case.name}.tif")
                )
                runs.setdefault((case.name, "C"), []).append(
                    run_c(binary, case, tiff, workdir / f"c-{case.name}.tif", cap_s)
                )

    print()
    header = (
        f"{'case':<12} {'line s':>7} {'Py CPU s':>9} {'C CPU s':>8} {'Py/C':>6}  "
        f"{'ch/core Py':>10} {'ch/core C':>10}"
    )
    print(header)
    print("-" * len(header))
    failed = False
    notes: list[str] = []
    for case in CASES:
        py = [r for r in runs[(case.name, "Python")] if r.completed]
        c = [r for r in runs[(case.name, "C")] if r.completed]
        py_cpu = min((r.cpu_s for r in py), default=None)
        c_cpu = min((r.cpu_s for r in c), default=None)
        line_s = (py or c)[0].line_s if py or c else None
        print(
            f"{case.name:<12} {_fmt(line_s, 7, 2)} {_fmt(py_cpu, 9, 4)} {_fmt(c_cpu, 8, 4)} "
            f"{_ratio(py_cpu, c_cpu)}  {_channels(line_s, py_cpu)} {_channels(line_s, c_cpu)}"
        )
        line_times = {round(r.line_s, 3) for r in py + c}
        if len(line_times) > 1:
            notes.append(f"{case.name}: line s differ between runs/engines: {sorted(line_times)}")
    print(f"(CPU s: least of {repeat} runs; Py/C target <= {TARGET_RATIO}, '!' = above)")

    print()
    print("Completion (last run of each; every run is checked):")
    for case in CASES:
        for engine in ("Python", "C"):
            batch = runs[(case.name, engine)]
            last = batch[-1]
            bad = sum(not r.ok for r in batch)
            failed = failed or bad > 0
            verdict = "OK" if bad == 0 else f"FAILED in {bad} of {len(batch)} runs"
            print(f"  {case.name:<12} {engine:<6} {verdict}")
            print(f"      sender:   {last.sender}")
            print(f"      receiver: {last.receiver}")
            if last.detail:
                print(f"      {last.detail}")
    for note in notes:
        print(f"note: {note}")
    if failed:
        print("FAILED: at least one call did not deliver every page", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
