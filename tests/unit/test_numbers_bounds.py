"""A list of numbers costs bounded memory: at most MAX_LISTED problems kept, all counted."""

from __future__ import annotations

import tracemalloc

import pytest

from faxcast.domain.numbers import (
    MAX_LISTED,
    RecipientListError,
    parse_recipients,
)
from faxcast.domain.recipient_file import decode_recipient_file
from faxcast.errors import InputError
from faxcast.i18n import codes

MB = 1024 * 1024


def _peak_bytes_of_refusing(text: str) -> tuple[int, RecipientListError]:
    tracemalloc.start()
    try:
        with pytest.raises(RecipientListError) as caught:
            parse_recipients(text, country="FR")
        return tracemalloc.get_traced_memory()[1], caught.value
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("separator", [",", "\n"], ids=["one line", "one entry a line"])
def test_a_long_invalid_list_keeps_the_first_problems_and_counts_all(
    separator: str,
) -> None:
    entries = 128 * 1024
    text = separator.join(["x"] * entries)

    peak, error = _peak_bytes_of_refusing(text)

    assert len(error.problems) == MAX_LISTED
    assert error.problem_count == entries
    assert str(error).startswith(f"{entries} invalid numbers: ")
    assert str(error).endswith(f"; and {entries - 10} more")
    # The text itself was made before tracing began: what parsing adds stays small.
    assert peak < 2 * MB, f"parsing took {peak / MB:.1f} MB"


def test_numbers_past_the_limit_are_not_kept_and_the_message_says_more_than() -> None:
    text = "\n".join(f"+336{n:08d}" for n in range(5_000))

    with pytest.raises(RecipientListError) as caught:
        parse_recipients(text, country="FR", max_recipients=100)

    assert caught.value.message == codes.NUMBERS_TOO_MANY_OVER(count=100)
    assert str(caught.value) == (
        "the list has more than 100 different numbers, at most 100 are allowed"
    )


def test_duplicates_are_counted_and_the_first_ones_listed() -> None:
    result = parse_recipients("\n".join(["+33612345678"] * 1_000), country="FR")

    assert result.numbers == ("+33612345678",)
    assert result.duplicate_count == 999
    assert len(result.duplicates) == MAX_LISTED
    assert result.duplicates[-1].line == MAX_LISTED + 1


def test_a_binary_file_is_refused_without_a_list_of_its_control_characters() -> None:
    data = b"\x01" * (4 * MB)
    tracemalloc.start()
    try:
        with pytest.raises(InputError) as caught:
            decode_recipient_file(data)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()

    assert caught.value.message == codes.FILE_HAS_CONTROLS(count=4 * MB, total=4 * MB)
    # The decoded text and one copy of it, not eight bytes a control character.
    assert peak < 10 * MB, f"decoding took {peak / MB:.1f} MB"
