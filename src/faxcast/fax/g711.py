"""G.711 A-law and µ-law by SpanDSP's codec: 16-bit linear samples to one byte each, and back."""

from __future__ import annotations

import weakref

import numpy as np
import numpy.typing as npt

from faxcast.domain.codec import Codec
from faxcast.errors import FaxError
from faxcast.fax._spandsp import ffi, lib
from faxcast.i18n import codes

Pcm = npt.NDArray[np.int16]

_MODES = {Codec.PCMA: lib.G711_ALAW, Codec.PCMU: lib.G711_ULAW}


class G711:
    """One law's encoder and decoder, the same SpanDSP codec the audio fax sessions use."""

    def __init__(self, codec: Codec = Codec.PCMA) -> None:
        state = lib.g711_init(ffi.NULL, _MODES[codec])
        if state == ffi.NULL:
            raise FaxError(codes.G711_CODEC_FAILED())
        weakref.finalize(self, lib.g711_free, state)
        self.codec = codec
        self._state = state

    def encode(self, samples: Pcm) -> bytes:
        """One G.711 byte per sample."""
        pcm = np.ascontiguousarray(samples, dtype=np.int16)
        out = bytearray(len(pcm))
        lib.g711_encode(
            self._state,
            ffi.from_buffer("uint8_t[]", out),
            ffi.from_buffer("int16_t[]", pcm),
            len(pcm),
        )
        return bytes(out)

    def decode(self, payload: bytes) -> Pcm:
        """One 16-bit sample per G.711 byte."""
        pcm = np.empty(len(payload), dtype=np.int16)
        lib.g711_decode(self._state, ffi.from_buffer("int16_t[]", pcm), payload, len(payload))
        return pcm


def saturate(samples: npt.NDArray[np.float64]) -> Pcm:
    """Samples rounded to 16 bits, those out of range clipped as a converter clips them."""
    return np.clip(np.rint(samples), -32768, 32767).astype(np.int16)
