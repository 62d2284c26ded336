"""The T.38 session parameters both ends agree on in SDP (ITU T.38 Annex D, RFC 4612)."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class RateManagement(enum.Enum):
    """Who checks the training (TCF): the receiving gateway, or it is sent across."""

    LOCAL_TCF = "localTCF"
    TRANSFERRED_TCF = "transferredTCF"


class ErrorCorrection(enum.Enum):
    """`T38FaxUdpEC`: how UDPTL protects against loss."""

    NONE = "none"
    REDUNDANCY = "t38UDPRedundancy"
    FEC = "t38UDPFEC"


@dataclass(frozen=True)
class T38Params:
    """The `a=T38…` attributes of one `m=image udptl t38` stream."""

    version: int = 0
    max_bit_rate: int = 14400
    rate_management: RateManagement = RateManagement.TRANSFERRED_TCF
    max_buffer: int | None = 2000
    # The largest UDPTL datagram (not IFP) the end that sends this SDP accepts.
    max_datagram: int | None = 400
    error_correction: ErrorCorrection = ErrorCorrection.REDUNDANCY
    fill_bit_removal: bool = False
    mmr: bool = False
    jbig: bool = False
