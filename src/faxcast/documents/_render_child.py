"""The PDF child process (isolated.py): `python -m faxcast.documents._render_child FD BYTES`.

Serves one request at a time on the socket FD, its address space capped at what it uses once
PDFium is loaded plus BYTES, until the server closes the socket.
"""

from __future__ import annotations

import contextlib
import os
import resource
import sys
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any, Final

from faxcast.documents import pdf
from faxcast.documents.isolated import FAILED, OK, REFUSED, TOO_COMPLEX
from faxcast.errors import DocumentError

_WORK: Final[dict[str, Callable[..., Any]]] = {
    "render": lambda data, resolution, limits: pdf.render_pdf(data, resolution, limits=limits),
    "count": lambda data, limits: pdf.count_pdf_pages(data, limits=limits),
}


def serve(conn: Connection, memory_bytes: int) -> None:
    """Answer requests until the server goes away, or memory runs out."""
    _limit_memory(memory_bytes)
    while True:
        try:
            what, args, limits = conn.recv()
        except EOFError:
            return
        try:
            conn.send((OK, _WORK[what](*args, limits)))
        except DocumentError as error:
            conn.send((REFUSED, (error.problem.value, error.message, error.page)))
        except MemoryError:
            # Python's own allocations failed: answer, then make way for a fresh child.
            with contextlib.suppress(MemoryError, OSError):
                conn.send((TOO_COMPLEX, None))
            return
        except Exception as error:
            # A bug, not the PDF's fault: raised again in the server, as it was in-process.
            conn.send((FAILED, RuntimeError(f"PDF child process: {error!r}")))


def _limit_memory(memory_bytes: int) -> None:
    """Cap the address space at what the child uses now (interpreter, PDFium) plus the budget."""
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            used = int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return  # not Linux: only the time limit holds
    cap = used + memory_bytes
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))


if __name__ == "__main__":
    serve(Connection(int(sys.argv[1])), int(sys.argv[2]))
