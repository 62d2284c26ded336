"""Call results the tests' stand-in lines return: a call whose far end confirmed every page."""

from __future__ import annotations

from datetime import datetime

from faxcast.fax.result import FaxResult, T30Code
from faxcast.lines.base import CallResult


def delivered(pages: int, at: datetime, *, line_s: float = 30.0) -> CallResult:
    """A call that delivered `pages` pages, dialled, answered and ended at `at`."""
    fax = FaxResult(
        success=True,
        code=T30Code.OK,
        code_text="OK",
        pages_total=pages,
        pages_transferred=pages,
        pages_confirmed=pages,
        bit_rate=14400,
        ecm=False,
        resolution=None,
        remote_ident="far end",
        duration_s=line_s,
        t38=False,
        failure=None,
        reason="every page confirmed",
    )
    return CallResult(at, at, at, 200, None, "delivered", fax)
