"""Sealed secrets: opened only with the key they were sealed with, told apart from clear ones."""

from __future__ import annotations

from faxcast.store.sealing import SEALED_PREFIX, Sealer, is_sealed

KEY = b"k" * 32


def test_a_sealed_secret_opens_with_its_key_only() -> None:
    sealed = Sealer(KEY).seal("correct horse")

    assert is_sealed(sealed)
    assert "correct horse" not in sealed
    assert Sealer(KEY).open(sealed) == "correct horse"
    assert Sealer(b"x" * 32).open(sealed) is None
    assert Sealer(KEY).open(SEALED_PREFIX + "not a token") is None


def test_the_same_secret_sealed_twice_looks_different() -> None:
    sealer = Sealer(KEY)

    assert sealer.seal("same") != sealer.seal("same")


def test_a_value_stored_in_clear_is_not_taken_for_a_sealed_one() -> None:
    assert not is_sealed("correct horse")
    assert KEY.decode() not in repr(Sealer(KEY))
