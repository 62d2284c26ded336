"""Send quality (the seed's "qualité d'envoi") and what it means for pages and modems."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Resolution(enum.Enum):
    """T.4 vertical resolutions faxcast sends; the horizontal one is always 204 dpi."""

    STANDARD = "standard"
    FINE = "fine"

    @property
    def dpi(self) -> tuple[int, int]:
        """Horizontal and vertical dots per inch as written in the TIFF-F tags."""
        return (204, 98) if self is Resolution.STANDARD else (204, 196)


class Modem(enum.Enum):
    """Image modems, fastest first."""

    V17 = "v17"
    V29 = "v29"
    V27TER = "v27ter"


@dataclass(frozen=True)
class FaxProfile:
    """How a quality is sent: page resolution, modems offered and error correction."""

    resolution: Resolution
    modems: tuple[Modem, ...]
    ecm: bool


class Quality(enum.Enum):
    """normal / high / best, as the seed and the provider's API name them."""

    NORMAL = "normal"
    HIGH = "high"
    BEST = "best"

    @property
    def profile(self) -> FaxProfile:
        """The send profile of DESIGN.md's quality rule."""
        return _PROFILES[self]


_ALL_MODEMS = (Modem.V17, Modem.V29, Modem.V27TER)

# "best" is about getting through (seed: advised for special or foreign numbers): it starts
# training at V.29 9600, below V.17's fragile 14400, and insists on error correction.
_PROFILES = {
    Quality.NORMAL: FaxProfile(Resolution.STANDARD, _ALL_MODEMS, ecm=True),
    Quality.HIGH: FaxProfile(Resolution.FINE, _ALL_MODEMS, ecm=True),
    Quality.BEST: FaxProfile(Resolution.FINE, (Modem.V29, Modem.V27TER), ecm=True),
}
