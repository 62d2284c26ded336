"""PDFs opened and rendered in a child process with memory and time limits (issue 13).

A PDF is a program of sorts: a 70 kB file whose content streams inflate to gigabytes, or that
takes minutes to draw, would otherwise cost the server its memory or a thread. Here PDFium runs
in one long-lived child process (a fresh interpreter: it shares nothing with the server) whose
address space is capped with RLIMIT_AS; a call that passes the memory or the time limit kills
the child, raises DocumentError(TOO_COMPLEX), and the next call starts a fresh one. Calls take
turns, as they did in-process (PDFium is not thread-safe).

The child is `python -m faxcast.documents._render_child`, not a multiprocessing Process: spawn
would run the caller's main script again in the child, which fails for a script without a
`__main__` guard. Requests and answers are pickled over a socket pair.
"""

from __future__ import annotations

import atexit
import os
import socket
import subprocess
import sys
import threading
from multiprocessing.connection import Connection
from typing import Any, Final

from faxcast.documents import pdf
from faxcast.documents.model import MB, DocumentLimits, FaxDocument
from faxcast.domain.quality import Resolution
from faxcast.errors import DocumentError, DocumentProblem
from faxcast.i18n import codes

_STOP_TIMEOUT_S: Final = 5.0
# The child's answers: (kind, value).
OK: Final = "ok"
REFUSED: Final = "refused"  # value: (DocumentProblem value, Message, page)
TOO_COMPLEX: Final = "too_complex"
FAILED: Final = "failed"  # value: an exception to raise again


def render_pdf(
    data: bytes, resolution: Resolution, *, limits: DocumentLimits = pdf.DEFAULT_LIMITS
) -> FaxDocument:
    """Validate a PDF and render each page, in the child; raises DocumentError."""
    document: FaxDocument = _CHILD.call(limits, "render", data, resolution)
    return document


def count_pdf_pages(data: bytes, *, limits: DocumentLimits = pdf.DEFAULT_LIMITS) -> int:
    """Check a PDF without rendering it, in the child (opening one inflates its object
    streams); its page count."""
    pages: int = _CHILD.call(limits, "count", data)
    return pages


class _Child:
    """The one child process that runs PDFium, started on first use and after each kill."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self._conn: Connection | None = None
        self._memory_bytes = 0

    def call(self, limits: DocumentLimits, what: str, *args: Any) -> Any:
        """Run `what` on `args` in the child within `limits`; its result or its DocumentError."""
        # Refused here, before the bytes are copied to the child.
        pdf.check_bytes(args[0], limits)
        with self._lock:
            conn = self._ready(limits.render_memory_bytes)
            try:
                conn.send((what, args, limits))
                if not conn.poll(limits.render_timeout_s):
                    raise TimeoutError
                answer = conn.recv()
            except (OSError, EOFError, TimeoutError):
                # Killed by the memory limit (PDFium aborts when an allocation fails), or late.
                self._stop()
                raise _too_complex(limits) from None
            kind, value = answer
            if kind == TOO_COMPLEX:
                self._stop()  # the child ran out of memory in Python and is leaving
                raise _too_complex(limits)
        if kind == OK:
            return value
        if kind == FAILED:
            raise value
        problem, message, page = value
        raise DocumentError(DocumentProblem(problem), message, page=page)

    def _ready(self, memory_bytes: int) -> Connection:
        if self._process is not None and (
            self._process.poll() is not None or memory_bytes != self._memory_bytes
        ):
            self._stop()
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
            atexit.unregister(self._stop)  # once, however many children were started
            atexit.register(self._stop)
        return self._conn

    def _stop(self) -> None:
        if self._conn is not None:
            self._conn.close()
        if self._process is not None:
            self._process.kill()
            self._process.wait(_STOP_TIMEOUT_S)
        self._process = self._conn = None


_CHILD: Final = _Child()


def _too_complex(limits: DocumentLimits) -> DocumentError:
    return DocumentError(
        DocumentProblem.TOO_COMPLEX,
        codes.PDF_TOO_COMPLEX(
            limit_mb=limits.render_memory_bytes / MB, timeout_s=limits.render_timeout_s
        ),
    )
