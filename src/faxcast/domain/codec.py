"""The G.711 laws a fax call's audio can use: one definition for lines, SDP, RTP and the modem."""

from __future__ import annotations

import enum


class Codec(enum.Enum):
    """A G.711 law (A-law is PCMA, μ-law is PCMU), named as in a line's settings."""

    PCMA = "pcma"
    PCMU = "pcmu"
