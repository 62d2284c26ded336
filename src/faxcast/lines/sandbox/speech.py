"""Synthetic speech: what the sandbox's voice number says to a fax machine that calls it."""

from __future__ import annotations

import functools

import numpy as np

from faxcast.domain.codec import Codec
from faxcast.fax.engine import SAMPLE_RATE
from faxcast.fax.g711 import G711, saturate


@functools.cache
def speech_alaw(seconds: float = 10.0, seed: int = 900) -> bytes:
    """Speech-like A-law audio: voiced syllables, pitch 100-220 Hz, harmonics below 1 kHz."""
    # Nothing near fax tones (1100, 1650/1850 and 2100 Hz): no T.30 engine hears a fax in it.
    rng = np.random.default_rng(seed)
    out = np.zeros(int(seconds * SAMPLE_RATE))
    position = 0
    while position < len(out):
        length = int(rng.uniform(0.12, 0.35) * SAMPLE_RATE)
        t = np.arange(length) / SAMPLE_RATE
        pitch = rng.uniform(100, 220) * (1 + 0.08 * np.sin(2 * np.pi * rng.uniform(2, 5) * t))
        phase = 2 * np.pi * np.cumsum(pitch) / SAMPLE_RATE
        voiced = np.zeros(length)
        for harmonic in range(1, int(900 // pitch.max()) + 1):
            voiced += rng.uniform(0.2, 1.0) / harmonic * np.sin(harmonic * phase)
        envelope = np.sin(np.pi * np.arange(length) / length) ** 2
        syllable = (voiced * 6000 + rng.normal(0, 300, length)) * envelope
        end = min(len(out), position + length)
        out[position:end] = syllable[: end - position]
        position = end + int(rng.uniform(0.05, 0.4) * SAMPLE_RATE)
    return G711(Codec.PCMA).encode(saturate(out))
