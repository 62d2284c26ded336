"""The `faxcast` command run as a user would: a real process, its output and its files."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from faxcast.documents import read_tiff_f, render_pdf
from faxcast.domain.quality import Resolution
from tests import pdfs


def faxcast(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "faxcast", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_render_writes_the_tiff_and_previews(tmp_path: Path) -> None:
    (tmp_path / "letter.pdf").write_bytes(pdfs.text_pdf(pages=2))

    run = faxcast(
        "fax",
        "render",
        "letter.pdf",
        "--quality",
        "normal",
        "-o",
        "out.tif",
        "--previews",
        "pages",
        cwd=tmp_path,
    )

    assert run.returncode == 0, run.stderr
    assert "2 pages, standard resolution" in run.stdout
    document = read_tiff_f((tmp_path / "out.tif").read_bytes())
    assert len(document.pages) == 2
    assert document.resolution is Resolution.STANDARD
    assert sorted(p.name for p in (tmp_path / "pages").iterdir()) == ["page-1.png", "page-2.png"]


def test_loopback_over_t38_prints_both_results_and_writes_what_arrived(tmp_path: Path) -> None:
    (tmp_path / "letter.pdf").write_bytes(pdfs.text_pdf(pages=2))

    run = faxcast("fax", "loopback", "letter.pdf", "--quality", "best", "--t38", cwd=tmp_path)

    assert run.returncode == 0, run.stderr
    assert "sender: OK" in run.stdout
    assert "receiver: OK" in run.stdout
    assert "bit_rate: 9600" in run.stdout
    assert "t38: True" in run.stdout
    # The line time of a real call: two fine pages at 9600 bit/s and T.30's exchanges take
    # tens of seconds (unpaced packets would say under one).
    seconds = [
        float(line.split(":")[1]) for line in run.stdout.splitlines() if "duration_s" in line
    ]
    assert len(seconds) == 2
    assert all(15 < s < 120 for s in seconds), seconds
    out = tmp_path / "faxcast-loopback"
    received = read_tiff_f((out / "received.tif").read_bytes())
    assert len(received.pages) == 2
    # The header line is drawn into the page: exactly as many rows as the rendered page.
    rendered = render_pdf(pdfs.text_pdf(pages=2), Resolution.FINE)
    assert [p.rows for p in received.pages] == [p.rows for p in rendered.pages]
    assert (out / "page-2.png").is_file()


def test_loopback_without_ecm(tmp_path: Path) -> None:
    (tmp_path / "drawing.pdf").write_bytes(pdfs.drawing_pdf())

    run = faxcast("fax", "loopback", "drawing.pdf", "--no-ecm", "-o", "out", cwd=tmp_path)

    assert run.returncode == 0, run.stderr
    assert "ecm: False" in run.stdout
    assert (tmp_path / "out" / "received.tif").is_file()


def test_demo_faxes_the_bundled_sample(tmp_path: Path) -> None:
    run = faxcast("demo", cwd=tmp_path)

    assert run.returncode == 0, run.stderr
    assert "sender: OK" in run.stdout
    assert (tmp_path / "faxcast-demo" / "page-1.png").is_file()


def test_a_file_that_is_not_a_pdf_is_one_clear_error(tmp_path: Path) -> None:
    (tmp_path / "notes.pdf").write_text("meeting notes, not a PDF at all\n")

    run = faxcast("fax", "loopback", "notes.pdf", cwd=tmp_path)

    assert run.returncode == 1
    # The verdict of an upload of the same file (services.documents.identify_file).
    assert run.stderr == "faxcast: error: the file is text, not a PDF\n"
    assert "Traceback" not in run.stderr
    assert not (tmp_path / "faxcast-loopback").exists()


def test_an_encrypted_pdf_is_refused_with_its_reason(tmp_path: Path) -> None:
    (tmp_path / "secret.pdf").write_bytes(pdfs.encrypted_pdf("open sesame"))

    run = faxcast("fax", "render", "secret.pdf", "-o", "out.tif", cwd=tmp_path)

    assert run.returncode == 1
    assert "password" in run.stderr.lower() or "encrypted" in run.stderr.lower()
    assert not (tmp_path / "out.tif").exists()


def test_a_usage_error_exits_2(tmp_path: Path) -> None:
    run = faxcast("fax", "render", "missing.pdf", "-o", "out.tif", cwd=tmp_path)

    assert run.returncode == 2
    assert "missing.pdf" in run.stderr
