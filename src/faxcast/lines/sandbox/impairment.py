"""Line impairments: what an analogue stretch of line does to G.711 audio (phase jitter)."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from faxcast.domain.codec import Codec
from faxcast.fax.engine import SAMPLE_RATE
from faxcast.fax.g711 import G711, saturate

# Phase jitter of the noisy line, as ITU line simulators specify it. Calibrated on SpanDSP:
# 5 degrees lets V.17 14400 pass training with a broken page, 8 degrees also fails 12000;
# at 6 degrees 14400's TCF fails every time (longest error-free run ~1600 of the 14400 bits
# needed) and 12000 carries ECM pages intact (9600 on V.29 for the "best" quality).
JITTER_DEGREES = 6.0
JITTER_HZ = 120.0

FloatArray = npt.NDArray[np.float64]

_HILBERT_TAPS = 63
_HILBERT_DELAY = _HILBERT_TAPS // 2


def _hilbert_filter() -> FloatArray:
    """A windowed FIR Hilbert transformer: the quadrature half of the analytic signal."""
    n = np.arange(_HILBERT_TAPS) - _HILBERT_DELAY
    odd = n % 2 == 1
    taps = np.zeros(_HILBERT_TAPS)
    taps[odd] = 2.0 / (np.pi * n[odd])
    return taps * np.hamming(_HILBERT_TAPS)


# Jitter hurts dense constellations first (V.17 14400's 128 points) and leaves the 300 bit/s
# V.21 signalling alone, as it does on real trunks.
class PhaseJitter:
    """Sinusoidal phase jitter on G.711 audio: rotates the analytic signal by a wobbling angle."""

    def __init__(self, degrees: float = JITTER_DEGREES, hz: float = JITTER_HZ) -> None:
        self._alaw = G711(Codec.PCMA)
        self._taps = _hilbert_filter()
        self._history = np.zeros(_HILBERT_TAPS - 1)
        self._peak = math.radians(degrees)
        self._step = 2 * math.pi * hz / SAMPLE_RATE
        self._t = 0

    def __call__(self, payload: bytes) -> bytes:
        samples = self._alaw.decode(payload).astype(np.float64)
        buffer = np.concatenate((self._history, samples))
        self._history = buffer[len(samples) :]
        quadrature = np.convolve(buffer, self._taps, mode="valid")
        in_phase = buffer[_HILBERT_DELAY : _HILBERT_DELAY + len(samples)]
        angle = self._peak * np.sin(self._step * (self._t + np.arange(len(samples))))
        self._t += len(samples)
        return self._alaw.encode(saturate(in_phase * np.cos(angle) - quadrature * np.sin(angle)))
