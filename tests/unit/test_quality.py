"""Quality → resolution, modems and error correction, as DESIGN.md's quality rule says."""

from __future__ import annotations

from faxcast.domain.quality import Modem, Quality, Resolution


def test_normal_is_standard_resolution_at_full_speed() -> None:
    profile = Quality.NORMAL.profile

    assert profile.resolution is Resolution.STANDARD
    assert profile.resolution.dpi == (204, 98)
    assert profile.modems[0] is Modem.V17


def test_high_is_fine_resolution_at_full_speed() -> None:
    profile = Quality.HIGH.profile

    assert profile.resolution.dpi == (204, 196)
    assert profile.modems[0] is Modem.V17


def test_best_trains_at_v29_with_error_correction() -> None:
    profile = Quality.BEST.profile

    assert profile.resolution is Resolution.FINE
    assert Modem.V17 not in profile.modems
    assert profile.modems[0] is Modem.V29
    assert profile.ecm
