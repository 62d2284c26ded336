"""PDFs are rendered in a child process with memory and time limits (issue 13)."""

from __future__ import annotations

import os
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import pytest

from faxcast.documents import DocumentLimits, count_pdf_pages, isolated, render_pdf
from faxcast.domain.document_limits import MB
from faxcast.domain.quality import Resolution
from faxcast.errors import DocumentError, DocumentProblem
from faxcast.i18n import codes, translator
from tests import pdfs

LIMITS = DocumentLimits()
# What the server may grow by while a bomb is refused: the child's memory is not its own.
SERVER_GROWTH_MB = 100
BOMB_TIMEOUT_S = 60.0
# Full-page fills PDFium draws in a few seconds, far longer than a one-page text takes.
LONG_RENDER_RECTANGLES = 30_000
WAIT_S = 30.0
THREAD_SLACK_S = 0.5


def bomb_pdf(*, inflated_mb: int = 64, repeats: int = 32) -> bytes:
    """A valid one-page PDF of about 70 kB whose content inflates to inflated_mb x repeats MB:
    one Flate stream of blanks, listed `repeats` times as the page's contents."""
    return one_page_pdf(b" " * (inflated_mb * MB), repeats)


def busy_pdf(rectangles: int) -> bytes:
    """A small one-page PDF that takes long to draw: `rectangles` fills of the whole page."""
    return one_page_pdf(b"10 10 575 822 re f\n" * rectangles, 1)


def one_page_pdf(content: bytes, repeats: int) -> bytes:
    """A one-page PDF whose page draws `content` (one Flate stream) `repeats` times."""
    stream = zlib.compress(content, 9)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents ["
        + b" ".join([b"4 0 R"] * repeats)
        + b"] >>",
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(stream) + stream + b"\nendstream",
    ]
    out = bytearray(b"%PDF-1.7\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\n" % (len(objects) + 1)
    out += b"startxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)


def resident_mb() -> float:
    """This process's resident memory now (Linux)."""
    with open("/proc/self/statm", encoding="ascii") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / MB


@pytest.mark.slow
def test_a_pdf_bomb_is_refused_and_the_server_is_unaffected() -> None:
    bomb = bomb_pdf()  # 2 GB of content, as measured from outside
    assert len(bomb) < 100_000
    assert count_pdf_pages(bomb) == 1  # opening it is cheap: the content is inflated to draw
    before = resident_mb()
    started = time.monotonic()

    with ThreadPoolExecutor(1) as thread:
        refused = thread.submit(render_pdf, bomb, Resolution.FINE, limits=LIMITS)
        _wait_busy(1)
        # Meanwhile another PDF renders in the other child.
        assert len(render_pdf(pdfs.text_pdf(2), Resolution.FINE).pages) == 2
        with pytest.raises(DocumentError) as caught:
            refused.result(timeout=BOMB_TIMEOUT_S)

    assert time.monotonic() - started < BOMB_TIMEOUT_S
    assert resident_mb() - before < SERVER_GROWTH_MB
    error = caught.value
    assert error.problem is DocumentProblem.TOO_COMPLEX
    assert str(error) == (
        "the PDF needs more than 1,024 MB of memory or 60 s to render: "
        "print it again to a simpler PDF"
    )
    assert (
        translator("fr")
        .message(error.message)
        .startswith("le PDF demande plus de 1\u202f024 Mo de mémoire ou 60 s pour être rendu")
    )
    # A fresh child renders the next PDF.
    assert len(render_pdf(pdfs.text_pdf(2), Resolution.FINE).pages) == 2


def _wait_busy(children: int) -> None:
    """Until `children` renders are in their child processes (bounded)."""
    deadline = time.monotonic() + WAIT_S
    while isolated._CHILDREN.busy < children:
        assert time.monotonic() < deadline, "the render never started"
        time.sleep(0.01)


def test_a_long_render_does_not_hold_up_another_one() -> None:
    assert LIMITS.render_children == 2
    with ThreadPoolExecutor(1) as thread:
        long = thread.submit(render_pdf, busy_pdf(LONG_RENDER_RECTANGLES), Resolution.FINE)
        _wait_busy(1)

        short = render_pdf(pdfs.text_pdf(1), Resolution.FINE)

        assert not long.done()  # with one child, the short render waits for the long one
        assert len(short.pages) == 1
        assert len(long.result(timeout=BOMB_TIMEOUT_S).pages) == 1


def test_renders_take_turns_beyond_the_limit() -> None:
    one = replace(LIMITS, render_children=1)

    def timed(data: bytes) -> tuple[int, float]:
        pages = len(render_pdf(data, Resolution.FINE, limits=one).pages)
        return pages, time.monotonic()

    with ThreadPoolExecutor(1) as thread:
        long = thread.submit(timed, busy_pdf(LONG_RENDER_RECTANGLES))
        _wait_busy(1)

        short = timed(pdfs.text_pdf(1))

        # Not before the long one ended (give or take the threads' turns): it waited for it.
        assert short[1] > long.result(timeout=BOMB_TIMEOUT_S)[1] - THREAD_SLACK_S


def test_a_pdf_that_renders_too_long_is_refused_and_the_next_one_renders() -> None:
    slow = replace(LIMITS, render_timeout_s=0.01)
    render_pdf(pdfs.text_pdf(1), Resolution.FINE)  # the child is up: only the render is timed

    with pytest.raises(DocumentError) as caught:
        render_pdf(pdfs.text_pdf(20), Resolution.FINE, limits=slow)

    assert caught.value.problem is DocumentProblem.TOO_COMPLEX
    assert len(render_pdf(pdfs.text_pdf(2), Resolution.FINE).pages) == 2


def test_refusals_come_back_from_the_child_as_they_were() -> None:
    with pytest.raises(DocumentError) as caught:
        render_pdf(pdfs.encrypted_pdf(), Resolution.FINE)

    assert caught.value.problem is DocumentProblem.ENCRYPTED
    with pytest.raises(DocumentError) as too_many:
        count_pdf_pages(pdfs.text_pdf(3), limits=replace(LIMITS, max_pages=2))
    assert too_many.value.problem is DocumentProblem.TOO_MANY_PAGES
    assert too_many.value.message == codes.PDF_TOO_MANY_PAGES(count=3, limit=2)


@pytest.mark.parametrize(
    "header",
    [
        {"refused": "encrypted", "code": "no.such.code", "params": {}, "page": None},
        {"refused": "encrypted", "code": "document.encrypted", "params": {"x": 1}, "page": None},
        {"refused": "no_such_problem", "code": "document.encrypted", "params": {}, "page": None},
        {"refused": "encrypted", "code": "document.encrypted", "params": {}, "page": "1"},
    ],
)
def test_a_refusal_from_the_child_must_be_a_declared_message(header: dict[str, object]) -> None:
    with pytest.raises(isolated.MalformedAnswerError):
        isolated._refusal(header)


def test_a_refusal_from_the_child_is_rebuilt() -> None:
    error = DocumentError(
        DocumentProblem.RENDER_FAILED,
        codes.PAGE_TOO_LONG(page=2, length_m=2.8, limit_m=2.59),
        page=2,
    )

    rebuilt = isolated._refusal(isolated.refusal_header(error))

    assert (rebuilt.problem, rebuilt.message, rebuilt.page) == (
        error.problem,
        error.message,
        error.page,
    )
