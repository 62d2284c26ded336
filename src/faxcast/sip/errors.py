"""The SIP layer's errors: malformed messages or SDP, and a local address that cannot be opened.

FaxcastError
 ├── SipSyntaxError       a SIP message or header that cannot be parsed (`reason` in English)
 │    └── SdpSyntaxError  an SDP body that cannot be parsed
 └── SipTransportError    the UDP socket cannot be opened
"""

from __future__ import annotations

from faxcast.errors import FaxcastError
from faxcast.i18n import codes


class SipSyntaxError(FaxcastError):
    """Input from the network that is not valid SIP; `reason` names the part at fault."""

    def __init__(self, reason: str) -> None:
        super().__init__(codes.SIP_MALFORMED(reason=reason))
        self.reason = reason


class SdpSyntaxError(SipSyntaxError):
    """An SDP body that is not valid RFC 4566, or a T.38 attribute with a bad value."""

    def __init__(self, reason: str) -> None:
        FaxcastError.__init__(self, codes.SDP_MALFORMED(reason=reason))
        self.reason = reason


class SipTransportError(FaxcastError):
    """The SIP endpoint's UDP socket could not be opened (address in use, no such address)."""

    def __init__(self, address: str, error: str) -> None:
        super().__init__(codes.SIP_BIND_FAILED(address=address, error=error))
