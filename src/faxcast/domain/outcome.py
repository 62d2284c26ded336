"""Failure classes of a fax call, as DESIGN.md's delivery and retry policy names them."""

from __future__ import annotations

import enum


class FailureClass(enum.Enum):
    """Why a call did not deliver; the retry policy decides from this alone."""

    BUSY = "busy"
    NO_ANSWER = "no_answer"
    CONGESTION = "congestion"
    NO_FAX = "no_fax"
    TRANSFER_FAILED = "transfer_failed"
    PERMANENT = "permanent"
    DOCUMENT = "document"

    @property
    def retryable(self) -> bool:
        """Whether another call can help (no_fax only a limited number of times).

        The one rule of what is retried: RetryPolicy.decide and FaxResult.retryable follow it.
        """
        return self in _RETRYABLE


_RETRYABLE = frozenset(
    {
        FailureClass.BUSY,
        FailureClass.NO_ANSWER,
        FailureClass.CONGESTION,
        FailureClass.NO_FAX,
        FailureClass.TRANSFER_FAILED,
    }
)
