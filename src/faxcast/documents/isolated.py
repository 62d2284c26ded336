"""PDFs opened and rendered in a child process with memory and time limits (issue 13).

A PDF is a program of sorts: a 70 kB file whose content streams inflate to gigabytes, or that
takes minutes to draw, would otherwise cost the server its memory or a thread. Here PDFium runs
in long-lived child processes (fresh interpreters: they share nothing with the server) whose
address space is capped with RLIMIT_AS; a call that passes the memory or the time limit kills
its child, raises DocumentError(TOO_COMPLEX), and a fresh one takes its place. Up to
`limits.render_children` calls run at once, each in its own child (PDFium is not thread-safe,
a process is); more wait their turn, so one long render no longer holds up every upload, and
the memory at risk is bounded by that many times the per-child limit.

The child is `python -m faxcast.documents._render_child`, not a multiprocessing Process: spawn
would run the caller's main script again in the child, which fails for a script without a
`__main__` guard. Requests go to the child pickled over a socket pair; answers come back as
JSON and raw page bytes, each of bounded size and checked, never unpickled: a child that a
hostile PDF took over cannot run code in the server.
"""

from __future__ import annotations

import atexit
import json
import os
import socket
import subprocess
import sys
import threading
import time
from multiprocessing.connection import Connection
from typing import Any, Final

from faxcast.documents import pdf
from faxcast.documents.model import MAX_ROWS, ROW_BYTES, FaxDocument, FaxPage
from faxcast.domain.document_limits import DocumentLimits
from faxcast.domain.quality import Resolution
from faxcast.errors import DocumentError, DocumentProblem
from faxcast.i18n import codes, declared, megabytes

_STOP_TIMEOUT_S: Final = 5.0
HEADER_MAX_BYTES: Final = 64 * 1024
"""The largest JSON header the child may send; a page is at most MAX_ROWS rows."""
PAGE_MAX_BYTES: Final = ROW_BYTES * MAX_ROWS


def render_pdf(
    data: bytes, resolution: Resolution, *, limits: DocumentLimits = pdf.DEFAULT_LIMITS
) -> FaxDocument:
    """Validate a PDF and render each page, in the child; raises DocumentError."""
    document = _CHILDREN.call(limits, "render", data, resolution)
    assert isinstance(document, FaxDocument)
    return document


def count_pdf_pages(data: bytes, *, limits: DocumentLimits = pdf.DEFAULT_LIMITS) -> int:
    """Check a PDF without rendering it, in the child (opening one inflates its object
    streams); its page count."""
    pages = _CHILDREN.call(limits, "count", data)
    assert isinstance(pages, int)
    return pages


class MalformedAnswerError(RuntimeError):
    """The child sent something that is not an answer: a bug, or a child taken over."""


class _Children:
    """The child processes that run PDFium: at most `render_children` busy at once, kept for
    the next calls while idle."""

    def __init__(self) -> None:
        self._turn = threading.Condition()
        self._idle: list[_Child] = []
        self._busy = 0

    @property
    def busy(self) -> int:
        """How many calls are in a child now."""
        return self._busy

    def call(
        self, limits: DocumentLimits, what: str, data: bytes, *args: object
    ) -> FaxDocument | int:
        """Run `what` on the PDF (and `args`) in a child within `limits`: its result, or its
        DocumentError."""
        # Refused here, before the bytes are copied to a child or wait for one.
        pdf.check_bytes(data, limits)
        most = max(1, limits.render_children)
        with self._turn:
            # Unbounded wait, yet short: each call ahead ends by its own render_timeout_s.
            self._turn.wait_for(lambda: self._busy < most)
            self._busy += 1
            child = self._idle.pop() if self._idle else _Child()
        try:
            return child.call(limits, what, data, *args)
        finally:
            with self._turn:
                self._busy -= 1
                kept = self._busy + len(self._idle) < most
                if kept:
                    self._idle.append(child)
                self._turn.notify()
            if not kept:  # the limit was lowered meanwhile
                child.stop()


class _Child:
    """One child process that runs PDFium, started on first use and after each kill; one call
    at a time."""

    def __init__(self) -> None:
        self._process: subprocess.Popen[bytes] | None = None
        self._conn: Connection | None = None
        self._memory_bytes = 0

    def call(
        self, limits: DocumentLimits, what: str, data: bytes, *args: object
    ) -> FaxDocument | int:
        """Run `what` on the PDF (and `args`) in this child within `limits`."""
        conn = self._ready(limits.render_memory_bytes)
        deadline = time.monotonic() + limits.render_timeout_s
        try:
            conn.send((what, (data, *args), limits))
            header = _json(_receive(conn, deadline, HEADER_MAX_BYTES))
            if header.get("too_complex"):
                raise EOFError  # out of memory in Python: the child is leaving
            if header.get("ok") == "render":
                return _document(conn, deadline, header, limits)
        except (OSError, EOFError, TimeoutError):
            # Killed by the memory limit (PDFium aborts when an allocation fails), or late.
            self.stop()
            raise _too_complex(limits) from None
        except MalformedAnswerError:
            self.stop()
            raise
        if header.get("ok") == "count":
            return _count(header, limits)
        if "refused" in header:
            raise _refusal(header)
        raise MalformedAnswerError(f"PDF child process failed: {str(header.get('failed'))[:500]}")

    def _ready(self, memory_bytes: int) -> Connection:
        if self._process is not None and (
            self._process.poll() is not None or memory_bytes != self._memory_bytes
        ):
            self.stop()
        if self._conn is None:
            ours, theirs = socket.socketpair()
            # The child imports faxcast from where this process did.
            env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
            with theirs:
                self._process = subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "faxcast.documents._render_child",
                        str(theirs.fileno()),
                        str(memory_bytes),
                    ],
                    pass_fds=(theirs.fileno(),),
                    env=env,
                    stdin=subprocess.DEVNULL,
                )
            self._conn = Connection(ours.detach())
            self._memory_bytes = memory_bytes
            atexit.unregister(self.stop)  # once, however many times it was started
            atexit.register(self.stop)
        return self._conn

    def stop(self) -> None:
        """Kill the process, if it runs; the next call starts a fresh one."""
        if self._conn is not None:
            self._conn.close()
        if self._process is not None:
            self._process.kill()
            self._process.wait(_STOP_TIMEOUT_S)
        self._process = self._conn = None


def _receive(conn: Connection, deadline: float, max_bytes: int) -> bytes:
    """The child's next message, if it comes before the deadline and is not too long."""
    if not conn.poll(max(0.0, deadline - time.monotonic())):
        raise TimeoutError
    return conn.recv_bytes(max_bytes)


def _json(data: bytes) -> dict[str, Any]:
    try:
        header = json.loads(data)
    except ValueError as error:
        raise MalformedAnswerError("the PDF child's header is not JSON") from error
    if not isinstance(header, dict):
        raise MalformedAnswerError("the PDF child's header is not an object")
    return header


def _document(
    conn: Connection, deadline: float, header: dict[str, Any], limits: DocumentLimits
) -> FaxDocument:
    try:
        resolution = Resolution(header["resolution"])
        count = _count(header, limits)
        pages = tuple(
            FaxPage(_receive(conn, deadline, PAGE_MAX_BYTES), resolution) for _ in range(count)
        )
        return FaxDocument(pages, resolution)
    except (KeyError, ValueError) as error:
        raise MalformedAnswerError(f"the PDF child's pages: {error}") from error


def _count(header: dict[str, Any], limits: DocumentLimits) -> int:
    pages = header.get("pages")
    if not isinstance(pages, int) or not 0 < pages <= limits.max_pages:
        raise MalformedAnswerError(f"the PDF child's page count: {pages!r}")
    return pages


_CODES: Final = {code.code: code for code in declared()}


def _refusal(header: dict[str, Any]) -> DocumentError:
    """The child's DocumentError, rebuilt from a declared code and plain values."""
    try:
        problem = DocumentProblem(header["refused"])
        params = header["params"]
        page = header["page"]
        if not isinstance(params, dict) or not all(
            isinstance(v, str | int | float) for v in params.values()
        ):
            raise ValueError(f"values {params!r}")
        if page is not None and not isinstance(page, int):
            raise ValueError(f"page {page!r}")
        message = _CODES[header["code"]](**params)
    except (KeyError, ValueError, TypeError) as error:
        raise MalformedAnswerError(f"the PDF child's refusal: {error}") from error
    return DocumentError(problem, message, page=page)


def refusal_header(error: DocumentError) -> dict[str, Any]:
    """How the child sends a DocumentError: its problem, message code, values and page."""
    return {
        "refused": error.problem.value,
        "code": error.message.code,
        "params": dict(error.message.params),
        "page": error.page,
    }


_CHILDREN: Final = _Children()


def _too_complex(limits: DocumentLimits) -> DocumentError:
    return DocumentError(
        DocumentProblem.TOO_COMPLEX,
        codes.PDF_TOO_COMPLEX(
            limit_mb=megabytes(limits.render_memory_bytes), timeout_s=limits.render_timeout_s
        ),
    )
