"""The sandbox network's documented test numbers: the last 4 digits choose what answers.

Any number in any country works once it is E.164: +33 1 23 45 04 86 and +1 212 555 0486 are
both busy. Every number not listed here reaches a healthy fax machine.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from faxcast.domain.outcome import FailureClass

SUFFIX_DIGITS = 4


class Behaviour(enum.Enum):
    """What the sandbox network does with a call."""

    HEALTHY = "healthy"
    BUSY = "busy"
    NO_ANSWER = "no_answer"
    CONGESTION = "congestion"
    UNALLOCATED = "unallocated"
    REJECTED = "rejected"
    VOICE = "voice"
    DROPPED = "dropped"
    NOISY_LINE = "noisy_line"


@dataclass(frozen=True)
class SandboxNumber:
    """One documented test number: the final digits, what answers and what a call ends with."""

    suffix: str
    name: str
    description: str
    behaviour: Behaviour
    sip_status: int
    failure: FailureClass | None


SANDBOX_NUMBERS: tuple[SandboxNumber, ...] = (
    SandboxNumber(
        "0486",
        "busy",
        "The line is busy: SIP 486 Busy Here, nothing is answered.",
        Behaviour.BUSY,
        486,
        FailureClass.BUSY,
    ),
    SandboxNumber(
        "0408",
        "no answer",
        "It rings and nobody answers: SIP 408 Request Timeout after 30 s of ringing.",
        Behaviour.NO_ANSWER,
        408,
        FailureClass.NO_ANSWER,
    ),
    SandboxNumber(
        "0503",
        "congestion",
        "The network is congested: SIP 503 Service Unavailable.",
        Behaviour.CONGESTION,
        503,
        FailureClass.CONGESTION,
    ),
    SandboxNumber(
        "0404",
        "unallocated",
        "The number does not exist: SIP 404 Not Found.",
        Behaviour.UNALLOCATED,
        404,
        FailureClass.PERMANENT,
    ),
    SandboxNumber(
        "0603",
        "rejected",
        "The callee refuses the call: SIP 603 Decline.",
        Behaviour.REJECTED,
        603,
        FailureClass.PERMANENT,
    ),
    SandboxNumber(
        "0900",
        "voice",
        "A person answers (SIP 200) and talks; no fax machine ever replies, so the sender "
        "gives up after T.30's 60 s T0 timer: no fax answered.",
        Behaviour.VOICE,
        200,
        FailureClass.NO_FAX,
    ),
    SandboxNumber(
        "0222",
        "dropped",
        "A fax machine answers and confirms the first page, then the call drops 2 s into the "
        "second page: transfer failed with 1 page confirmed (a resend starts at page 2). A "
        "fax of one page goes through.",
        Behaviour.DROPPED,
        200,
        FailureClass.TRANSFER_FAILED,
    ),
    SandboxNumber(
        "0144",
        "noisy line",
        "A fax machine behind an analogue line with phase jitter, audio only (no T.38): "
        "training at V.17 14400 bit/s fails and the call goes through at a lower speed.",
        Behaviour.NOISY_LINE,
        200,
        None,
    ),
)

_BY_SUFFIX = {entry.suffix: entry for entry in SANDBOX_NUMBERS}


def digits_of(number: str) -> str:
    """The ASCII digits of a dialled number, in order."""
    return "".join(char for char in number if "0" <= char <= "9")


def sandbox_number(number: str) -> SandboxNumber | None:
    """The documented test number `number` ends with; None for a healthy fax machine."""
    digits = digits_of(number)
    if len(digits) < SUFFIX_DIGITS:
        return None
    return _BY_SUFFIX.get(digits[-SUFFIX_DIGITS:])


def behaviour_of(number: str) -> Behaviour:
    """What answers `number` in the sandbox network."""
    entry = sandbox_number(number)
    return Behaviour.HEALTHY if entry is None else entry.behaviour
