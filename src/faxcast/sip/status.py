"""Final SIP responses that end a call unanswered, and the failure class each one means."""

from __future__ import annotations

from dataclasses import dataclass

from faxcast.domain.outcome import FailureClass


@dataclass(frozen=True)
class SipFailure:
    """A final SIP response that ends a call before it is answered, and its failure class."""

    status: int
    phrase: str
    failure: FailureClass
    meaning: str

    @property
    def reason(self) -> str:
        """For people: "busy (SIP 486 Busy Here)"."""
        return f"{self.meaning} (SIP {self.status} {self.phrase})"


# DESIGN.md's delivery and retry policy, for the SIP statuses it names.
SIP_FAILURES: tuple[SipFailure, ...] = (
    SipFailure(486, "Busy Here", FailureClass.BUSY, "busy"),
    SipFailure(600, "Busy Everywhere", FailureClass.BUSY, "busy"),
    SipFailure(408, "Request Timeout", FailureClass.NO_ANSWER, "no answer"),
    SipFailure(480, "Temporarily Unavailable", FailureClass.NO_ANSWER, "no answer"),
    SipFailure(503, "Service Unavailable", FailureClass.CONGESTION, "congestion"),
    SipFailure(404, "Not Found", FailureClass.PERMANENT, "number does not exist"),
    SipFailure(484, "Address Incomplete", FailureClass.PERMANENT, "number does not exist"),
    SipFailure(403, "Forbidden", FailureClass.PERMANENT, "rejected"),
    SipFailure(603, "Decline", FailureClass.PERMANENT, "rejected"),
    # A challenge still standing after we answered it: the line's credentials are wrong, which
    # is no fault of the number. Retried like congestion, so a corrected password resumes.
    SipFailure(401, "Unauthorized", FailureClass.CONGESTION, "credentials refused by the trunk"),
    SipFailure(
        407,
        "Proxy Authentication Required",
        FailureClass.CONGESTION,
        "credentials refused by the trunk",
    ),
)
_SIP_FAILURE = {entry.status: entry for entry in SIP_FAILURES}


def sip_failure(status: int) -> SipFailure:
    """The failure a final SIP status >= 300 means; unknown ones count as transient trouble."""
    known = _SIP_FAILURE.get(status)
    if known is not None:
        return known
    if 500 <= status < 600:
        return SipFailure(status, "Server Error", FailureClass.CONGESTION, "congestion")
    return SipFailure(status, "Call Failed", FailureClass.PERMANENT, "rejected")
