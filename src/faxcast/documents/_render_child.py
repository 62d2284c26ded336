"""The PDF child process (isolated.py): `python -m faxcast.documents._render_child FD BYTES`.

Serves one request at a time on the socket FD, its address space capped at what it uses once
PDFium is loaded plus BYTES, until the server closes the socket. Each answer is a JSON header,
then for a rendering the packed rows of each page, one message each.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import sys
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any, Final

from faxcast.documents import pdf
from faxcast.documents.isolated import refusal_header
from faxcast.domain.document_limits import DocumentLimits
from faxcast.domain.quality import Resolution
from faxcast.errors import DocumentError


def _render(conn: Connection, data: bytes, resolution: Resolution, limits: DocumentLimits) -> None:
    document = pdf.render_pdf(data, resolution, limits=limits)
    pages = document.pages
    _send(conn, {"ok": "render", "resolution": document.resolution.value, "pages": len(pages)})
    for page in pages:
        conn.send_bytes(page.ink)


def _count(conn: Connection, data: bytes, limits: DocumentLimits) -> None:
    _send(conn, {"ok": "count", "pages": pdf.count_pdf_pages(data, limits=limits)})


_WORK: Final[dict[str, Callable[..., None]]] = {"render": _render, "count": _count}


def _send(conn: Connection, header: dict[str, Any]) -> None:
    conn.send_bytes(json.dumps(header).encode())


def serve(conn: Connection, memory_bytes: int) -> None:
    """Answer requests until the server goes away, or memory runs out."""
    _limit_memory(memory_bytes)
    while True:
        try:
            what, args, limits = conn.recv()
        except EOFError:
            return
        try:
            _WORK[what](conn, *args, limits)
        except DocumentError as error:
            _send(conn, refusal_header(error))
        except MemoryError:
            # Python's own allocations failed: answer, then make way for a fresh child.
            with contextlib.suppress(MemoryError, OSError):
                _send(conn, {"too_complex": True})
            return
        except Exception as error:
            # A bug, not the PDF's fault: raised again in the server, as it was in-process.
            _send(conn, {"failed": repr(error)})


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
