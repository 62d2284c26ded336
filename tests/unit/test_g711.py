"""G.711 through SpanDSP's codec: the values ITU-T G.711 gives, and every code round-trips."""

from __future__ import annotations

import numpy as np
import pytest

from faxcast.domain.codec import Codec
from faxcast.fax.g711 import G711, saturate

EVERY_SAMPLE = np.arange(-32768, 32768).astype(np.int16)


@pytest.mark.parametrize(
    ("codec", "samples", "codes"),
    [
        # A-law inverts every other bit (0x55); the sign bit is set for positive samples.
        (Codec.PCMA, [0, -1, 32767, -32768], "d555aa2a"),
        # µ-law inverts every bit: zero is 0xFF, the loudest positive sample 0x80.
        (Codec.PCMU, [0, -1, 32767, -32768], "ff7f8000"),
    ],
)
def test_encodes_as_g711_says(codec: Codec, samples: list[int], codes: str) -> None:
    assert G711(codec).encode(np.array(samples, dtype=np.int16)).hex() == codes


@pytest.mark.parametrize(
    ("codec", "codes", "samples"),
    [
        (Codec.PCMA, "d555aa2a", [8, -8, 32256, -32256]),
        (Codec.PCMU, "ff7f8000", [0, 0, 32124, -32124]),
    ],
)
def test_decodes_as_g711_says(codec: Codec, codes: str, samples: list[int]) -> None:
    assert G711(codec).decode(bytes.fromhex(codes)).tolist() == samples


@pytest.mark.parametrize("codec", list(Codec))
def test_every_code_decodes_to_a_sample_that_encodes_back_to_it(codec: Codec) -> None:
    g711 = G711(codec)
    codes = bytes(range(256))

    again = g711.encode(g711.decode(codes))

    # µ-law has two zeros; the negative one (0x7F) comes back as the positive one.
    changed = {code: again[code] for code in codes if again[code] != code}
    assert changed == ({0x7F: 0xFF} if codec is Codec.PCMU else {})


@pytest.mark.parametrize(("codec", "ratio"), [(Codec.PCMA, 32), (Codec.PCMU, 16)])
def test_every_sample_survives_within_its_quantisation_step(codec: Codec, ratio: int) -> None:
    g711 = G711(codec)

    back = g711.decode(g711.encode(EVERY_SAMPLE)).astype(np.int64)

    error = np.abs(back - EVERY_SAMPLE)
    assert np.all(error <= np.maximum(8, np.abs(EVERY_SAMPLE.astype(np.int64)) // ratio))


def test_saturate_rounds_and_clips_to_16_bits() -> None:
    pcm = saturate(np.array([0.4, 0.6, -2.5, 40000.0, -40000.0]))

    assert pcm.dtype == np.int16
    assert pcm.tolist() == [0, 1, -2, 32767, -32768]
