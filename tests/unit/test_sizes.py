"""Sizes in messages: a refused size and its limit, both figures told apart, in each language."""

from __future__ import annotations

import pytest

from faxcast.i18n import codes, megabytes, size_over_limit, translator

MB = 1024 * 1024


def told(size: int, limit: int, lang: str) -> str:
    size_mb, limit_mb = size_over_limit(size, limit)
    return translator(lang).message(codes.DOCUMENT_TOO_LARGE(size_mb=size_mb, limit_mb=limit_mb))


@pytest.mark.parametrize(
    ("size", "limit", "en", "fr"),
    [
        (
            round(20.97 * MB),
            20 * MB,
            "20.97 MB, more than the 20 MB",
            "20,97 Mo, plus que la limite de 20 Mo",
        ),
        (
            21 * MB,
            20 * MB,
            "21.00 MB, more than the 20 MB",
            "21,00 Mo, plus que la limite de 20 Mo",
        ),
        # One byte over: as many decimals as it takes for the two figures to differ.
        (20 * MB + 1, 20 * MB, "20.000001 MB, more than the 20 MB", "20,000001 Mo"),
        (
            MB // 2 + 6000,
            MB // 2,
            "0.51 MB, more than the 0.5 MB",
            "0,51 Mo, plus que la limite de 0,5 Mo",
        ),
        # A limit that is no round figure is shown as precisely as the size beside it.
        (10_000_100, 10_000_000, "9.5368 MB, more than the 9.5367 MB", "9,5368 Mo"),
        (1200 * MB, 1024 * MB, "1,200.00 MB, more than the 1,024 MB", "1\u202f200,00 Mo"),
    ],
)
def test_a_size_over_its_limit_is_told_precisely(size: int, limit: int, en: str, fr: str) -> None:
    assert en in told(size, limit, "en")
    assert fr in told(size, limit, "fr")


def test_a_limit_alone_reads_as_it_was_set() -> None:
    t = translator("fr")
    assert t.message(
        codes.REQUEST_TOO_LARGE(limit_mb=megabytes(22 * MB), document_mb=megabytes(MB // 4))
    ) == (
        "la requête dépasse les 22 Mo que ce serveur accepte "
        "(un document d'au plus 0,25 Mo, avec les autres champs du formulaire)"
    )
