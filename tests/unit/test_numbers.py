"""The recipient list parser: the seed's rule, done right (DESIGN.md, Recipients)."""

from __future__ import annotations

import codecs
import contextlib
import re

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from faxcast.domain import numbers, phonenumbers_fast
from faxcast.domain.numbers import (
    Duplicate,
    Entry,
    EntryProblem,
    Merge,
    NumberWarning,
    RecipientList,
    RecipientListError,
    parse_recipients,
)
from faxcast.domain.numbers import warned as stored_warnings
from faxcast.domain.recipient_file import decode_recipient_file
from faxcast.errors import InputError
from faxcast.fields import Field
from faxcast.i18n import codes, translator


def parse(text: str, country: str = "FR", max_recipients: int = 10_000) -> RecipientList:
    return parse_recipients(text, country=country, max_recipients=max_recipients)


def problems(text: str, country: str = "FR") -> tuple[EntryProblem, ...]:
    with pytest.raises(RecipientListError) as caught:
        parse(text, country)
    return caught.value.problems


def reason(entry: str, country: str = "FR") -> str:
    (problem,) = problems(entry, country)
    return str(problem.reason)


# --- separators and blanks ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "0123456789,0223456789",
        "0123456789;0223456789",
        "0123456789\n0223456789",
        "0123456789\r\n0223456789",
        "0123456789\r0223456789",
        "0123456789 ,;\n\n; 0223456789",
        ",,;\n 0123456789 \t;;\r\n\r\n,0223456789,;\n",
        "\u00a00123456789\u00a0\t,\t0223456789 ",
    ],
)
def test_every_separator_and_any_run_of_them(text: str) -> None:
    assert parse(text) == RecipientList(
        ("+33123456789", "+33223456789"), (), typed=("0123456789", "0223456789")
    )


def test_a_mix_of_separators_on_several_lines() -> None:
    text = "0123456789, 0223456789; 0323456789\n0423456789;0523456789\r\n0623456789"

    assert parse(text).numbers == tuple(f"+33{d}23456789" for d in "123456")


@pytest.mark.parametrize(
    "entry",
    [
        "01 23 45 67 89",
        "01.23.45.67.89",
        "01-23-45-67-89",
        "(01) 23 45 67 89",
        "+33 (0)1 23 45 67 89",
        "+33 1 23 45 67 89",
        "0033 1 23 45 67 89",
        "33 1 23 45 67 89",
        "01\u00a023\u202f45\u200967\u201389",
        "\u202a+33 1 23 45 67 89\u202c",
        "\ufeff0123456789",
    ],
)
def test_spaces_punctuation_and_prefixes_are_normalised(entry: str) -> None:
    assert parse(entry).numbers == ("+33123456789",)


def test_the_plus_is_kept_and_foreign_numbers_are_international() -> None:
    assert parse("+44 20 7946 0958, +1 (650) 253-0000").numbers == (
        "+442079460958",
        "+16502530000",
    )


def test_national_numbers_take_the_lines_country() -> None:
    assert parse("020 7946 0958", country="GB").numbers == ("+442079460958",)
    assert parse("(650) 253-0000", country="us").numbers == ("+16502530000",)


def test_unicode_line_separators_split_entries_but_do_not_count_as_lines() -> None:
    assert parse("0123456789\u20280223456789").numbers == ("+33123456789", "+33223456789")
    assert problems("0123456789\u2028 12x\nab") == (
        EntryProblem(1, 13, "12x", codes.NOT_A_DIGIT(char="'x'")),
        EntryProblem(2, 1, "ab", codes.NOT_A_DIGIT(char="'a'")),
    )


# --- the digit rule ------------------------------------------------------------------------------


def test_six_and_seventeen_digits_are_accepted() -> None:
    assert parse("+49 1234").numbers == ("+491234",)
    assert parse("+49 123 456 789 012 345").numbers == ("+49123456789012345",)


def test_five_and_eighteen_digits_are_refused() -> None:
    assert reason("12345") == "has 5 digits, at least 6 are needed"
    assert reason("+1") == "has 1 digit, at least 6 are needed"
    assert reason("+") == "has no digits, at least 6 are needed"
    assert reason("...") == "has no digits, at least 6 are needed"
    assert reason("123456789012345678") == "has 18 digits, at most 17 are allowed"


def test_letters_and_symbols_are_refused() -> None:
    assert reason("01234567a9") == "contains 'a', which is not a digit"
    assert reason("01/23/45/67/89") == "contains '/', which is not a digit"
    assert reason("0123\x0756789") == "contains U+0007, which is not a digit"
    fullwidth = "".join(chr(0xFF10 + int(d)) for d in "0123456789")
    assert reason(fullwidth) == "contains '\uff10', write digits as 0 to 9"


def test_plus_is_only_allowed_at_the_start() -> None:
    assert reason("0123+456789") == "'+' is only allowed at the start"
    assert reason("++33123456789") == "'+' is only allowed at the start"


# --- phonenumbers: warnings, never refusals -------------------------------------------------------


def warned(entry: str, country: str = "FR") -> tuple[str, str]:
    """The number kept for a single entry, and the warning it comes with."""
    result = parse(entry, country)
    (warning,) = result.warnings
    assert result.numbers == (warning.number,)
    assert (warning.line, warning.column, warning.text) == (1, 1, entry)
    return warning.number, str(warning.reason)


@pytest.mark.parametrize(
    ("entry", "number", "message"),
    [
        # The issue's list: the guide accepts each of them, so faxcast keeps them, with a warning.
        ("123456", "123456", "for country FR: 9 digits expected after +33, this one has 6"),
        ("+123456", "+123456", "for country code +1: 10 digits expected after +1, this one has 5"),
        ("(0) 8-12-34", "081234", "for country FR: 9 digits expected after +33, this one has 6"),
        ("01 23 45", "012345", "for country FR: 9 digits expected after +33, this one has 6"),
        (
            "+33 1 23 45 67",
            "+331234567",
            "for country FR: 9 digits expected after +33, this one has 7",
        ),
    ],
)
def test_numbers_of_an_impossible_length_are_kept_as_typed_with_a_warning(
    entry: str, number: str, message: str
) -> None:
    kept, reason = warned(entry)

    assert kept == number
    assert reason == f"probably invalid {message}; dialled as typed"


def test_a_long_national_number_gets_a_hint_about_the_plus() -> None:
    number, reason = warned("12345678901234567")

    assert number == "12345678901234567"
    assert reason.endswith(
        "this one has 17; dialled as typed (an international number needs a leading '+')"
    )


def test_the_warning_is_in_french_too() -> None:
    (warning,) = parse("123456").warnings

    assert warning.reason.code == codes.WRONG_LENGTH.code
    assert translator("fr").message(warning.reason) == (
        "probablement invalide pour le pays FR : 9 chiffres attendus après +33, celui-ci en a 6 ;"
        " composé tel quel"
    )


def test_unknown_country_codes_are_kept_with_a_warning() -> None:
    assert warned("+999 123 456") == (
        "+999123456",
        "probably invalid: no known country code after its '+'; dialled as typed",
    )
    assert warned("00 999 123 456") == (
        "00999123456",
        "probably invalid: no country code after its international prefix; dialled as typed",
    )


def test_possible_but_unassigned_numbers_are_accepted() -> None:
    # is_possible_number, not is_valid_number: no NANP area code starts with 0, yet the length
    # is right, so the line is left to find out.
    assert phonenumbers.is_valid_number(phonenumbers.parse("+10115550000")) is False
    assert parse("+1 011 555 0000") == RecipientList(
        ("+10115550000",), (), typed=("+1 011 555 0000",)
    )


def test_local_and_short_national_numbers_are_kept_as_dialled() -> None:
    local = parse("555-1234", country="US")
    short = parse("118 218")

    assert local.numbers == ("5551234",)
    assert local.warnings == (
        NumberWarning(1, 1, "555-1234", "5551234", codes.LOCAL_NUMBER(region="US")),
    )
    assert short.numbers == ("118218",)
    assert str(short.warnings[0].reason) == "is a short number in FR: dialled as typed"


def test_a_number_whose_international_form_reads_differently_is_kept_with_a_warning() -> None:
    assert warned("0849917976", country="JE") == (
        "0849917976",
        "probably invalid: its international form +440849917976 does not read back as itself;"
        " dialled as typed",
    )


def test_warned_spellings_of_one_entry_are_one_recipient() -> None:
    result = parse("12 34 56\n123456; 12.34.56")

    assert result.numbers == ("123456",)
    assert [(w.line, w.column) for w in result.warnings] == [(1, 1)]
    assert result.merges == (
        Merge(
            "123456",
            (Entry(1, 1, "12 34 56"), Entry(2, 1, "123456"), Entry(2, 9, "12.34.56")),
        ),
    )


def test_an_unknown_country_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="unknown country 'XX'"):
        parse("0123456789", country="XX")


# --- positions, duplicates, limits, the error ----------------------------------------------------


def test_every_invalid_entry_is_reported_with_its_line_and_column() -> None:
    text = "0123456789\r\n  12x45 ;0223456789,  abc\r\n\r\né 0123+456789"

    assert problems(text) == (
        EntryProblem(2, 3, "12x45", codes.NOT_A_DIGIT(char="'x'")),
        EntryProblem(2, 23, "abc", codes.NOT_A_DIGIT(char="'a'")),
        EntryProblem(4, 1, "é 0123+456789", codes.NOT_A_DIGIT(char="'é'")),
    )


def test_columns_count_characters_after_a_crlf_and_several_entries() -> None:
    text = "\r\n;\r\n0123456789, ++1 ;\t+3x"

    assert [(p.line, p.column, p.text) for p in problems(text)] == [(3, 13, "++1"), (3, 19, "+3x")]


def test_lines_are_counted_alike_across_the_chunks_a_long_text_is_split_in() -> None:
    # Every kind of line end, and a CRLF or a lone CR next to each chunk's end: the bad entries'
    # lines and columns are those of the text, as a split of it all at once gives them.
    ends = ("\n", "\r\n", "\r")
    lines = [f"01 {i // 10000:02d} {i // 100 % 100:02d} {i % 100:02d} 00" for i in range(30000)]
    bad = {7: "x1", 4390: "12", 4391: "ab", 12345: "+3x", 29999: "9"}
    for index, entry in bad.items():
        lines[index] = f" {lines[index]}, {entry}"
    text = "".join(line + ends[i % 3] for i, line in enumerate(lines)).rstrip()
    expected = []
    for number, line in enumerate(re.split(r"\r\n?|\n", text), start=1):
        if number - 1 in bad:
            expected.append((number, line.index(",") + 3, bad[number - 1]))

    assert len(text) > 4 * numbers._CHUNK
    with pytest.raises(RecipientListError) as raised:
        parse_recipients(text, country="FR", max_recipients=30000)
    assert [(p.line, p.column, p.text) for p in raised.value.problems] == expected


def test_duplicates_are_sent_once_and_reported_where_they_are() -> None:
    text = "01 23 45 67 89\n0223456789, +33 1 23 45 67 89;0223456789\n0123456789"

    assert parse(text) == RecipientList(
        ("+33123456789", "+33223456789"),
        (
            Duplicate(2, 13, "+33 1 23 45 67 89", "+33123456789"),
            Duplicate(2, 31, "0223456789", "+33223456789"),
            Duplicate(3, 1, "0123456789", "+33123456789"),
        ),
        duplicate_count=3,
        merges=(
            Merge(
                "+33123456789",
                (
                    Entry(1, 1, "01 23 45 67 89"),
                    Entry(2, 13, "+33 1 23 45 67 89"),
                    Entry(3, 1, "0123456789"),
                ),
            ),
            Merge("+33223456789", (Entry(2, 1, "0223456789"), Entry(2, 31, "0223456789"))),
        ),
        typed=("01 23 45 67 89", "0223456789"),
    )


def test_the_issues_four_spellings_of_one_number_are_one_recipient_told_as_merged() -> None:
    text = "0123456789\n01 23 45 67 89, +33123456789;33123456789"

    result = parse(text)

    assert result.numbers == ("+33123456789",)
    assert result.merges == (
        Merge(
            "+33123456789",
            (
                Entry(1, 1, "0123456789"),
                Entry(2, 1, "01 23 45 67 89"),
                Entry(2, 17, "+33123456789"),
                Entry(2, 30, "33123456789"),
            ),
        ),
    )


def test_the_limit_counts_distinct_numbers() -> None:
    four = "0123456789,0223456789,0323456789,0423456789"

    assert len(parse(four + ",0123456789", max_recipients=4).numbers) == 4
    with pytest.raises(RecipientListError) as caught:
        parse(four, max_recipients=3)
    assert str(caught.value) == "the list has 4 different numbers, at most 3 are allowed"
    assert caught.value.problems == ()


def test_the_default_limit_is_ten_thousand() -> None:
    text = "\n".join(f"+336{n:08d}" for n in range(10_001))

    assert len(parse(text[: text.rindex("\n")]).numbers) == 10_000
    with pytest.raises(RecipientListError, match="10001 different numbers, at most 10000"):
        parse(text)


@pytest.mark.parametrize("text", ["", "   ", ",;,\n\r\n\t;", "\ufeff"])
def test_an_empty_list_is_refused(text: str) -> None:
    with pytest.raises(RecipientListError) as caught:
        parse(text)

    assert str(caught.value) == "the list has no numbers"
    assert caught.value.field is Field.RECIPIENTS_LIST


def test_the_error_message_summarises_the_first_ten_problems() -> None:
    text = "\n".join(["0123456789"] + [f"12x{n}" for n in range(12)])

    with pytest.raises(RecipientListError) as caught:
        parse(text)

    error = caught.value
    assert isinstance(error, InputError)
    assert error.field is Field.RECIPIENTS_LIST
    assert len(error.problems) == 12
    assert error.message.code == codes.NUMBERS_INVALID.code
    assert str(error).startswith(
        "12 invalid numbers: line 2, column 1: '12x0': contains 'x', which is not a digit;"
        " line 3, column 1: '12x1': "
    )
    assert str(error).endswith(
        "line 11, column 1: '12x9': contains 'x', which is not a digit; and 2 more"
    )


def test_one_problem_and_too_many_numbers_are_both_told() -> None:
    with pytest.raises(RecipientListError) as caught:
        parse("0123456789, 0223456789, 1234", max_recipients=1)

    assert str(caught.value) == (
        "1 invalid number: line 1, column 25: '1234': has 4 digits, at least 6 are needed;"
        " also, the list has 2 different numbers, at most 1 are allowed"
    )


def test_long_and_invisible_texts_are_shortened_in_the_message() -> None:
    with pytest.raises(RecipientListError) as caught:
        parse("x" * 100 + "\x01")

    assert "'" + "x" * 40 + "…': contains 'x'" in str(caught.value)
    assert caught.value.problems[0].text == "x" * 100 + "\x01"


# --- files ---------------------------------------------------------------------------------------

FILE_TEXT = "Numéro\r\n01 23 45 67 89\r\n+44 20 7946 0958\r\n"


@pytest.mark.parametrize(
    "data",
    [
        FILE_TEXT.encode("utf-8"),
        codecs.BOM_UTF8 + FILE_TEXT.encode("utf-8"),
        FILE_TEXT.encode("latin-1"),
        FILE_TEXT.encode("cp1252"),
        FILE_TEXT.encode("utf-16"),
        codecs.BOM_UTF16_BE + FILE_TEXT.encode("utf-16-be"),
    ],
)
def test_files_in_utf8_latin1_or_utf16_decode_to_the_same_text(data: bytes) -> None:
    assert decode_recipient_file(data) == FILE_TEXT


def test_windows_1252_characters_are_read_as_such() -> None:
    text = "0123456789 \u2013 \u2019\n"
    assert decode_recipient_file(text.encode("cp1252")) == text
    assert decode_recipient_file(b"\x81 0123456789") == "\x81 0123456789"


def test_a_decoded_file_follows_the_same_rules_with_crlf_positions() -> None:
    text = decode_recipient_file(codecs.BOM_UTF8 + b"01 23 45 67 89\r\n  0x\r\n")

    assert problems(text) == (EntryProblem(2, 3, "0x", codes.NOT_A_DIGIT(char="'x'")),)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"0123456789\x00\n", "it contains NUL bytes"),
        (bytes(range(1, 32)) * 4, "are control characters"),
        (b"%PDF-1.7\n...", "is a PDF document"),
        (b"PK\x03\x04....", "is a ZIP archive"),
        (codecs.BOM_UTF8 + b"\xff\xfe", "starts with a UTF-8 mark but is not UTF-8"),
        (codecs.BOM_UTF16_LE + b"\x00\xd8\x00", "starts with a UTF-16 mark"),
    ],
)
def test_binary_files_are_refused(data: bytes, message: str) -> None:
    with pytest.raises(InputError, match=message) as caught:
        decode_recipient_file(data)

    assert caught.value.field is Field.RECIPIENTS_FILE


def test_an_empty_file_is_an_empty_list() -> None:
    assert decode_recipient_file(b"") == ""


# --- properties ----------------------------------------------------------------------------------

REGIONS = sorted(phonenumbers.SUPPORTED_REGIONS)
LINE_BREAK = re.compile(r"\r\n|\r|\n")


def _examples() -> list[str]:
    found: set[str] = set()
    for region in REGIONS:
        for kind in (phonenumbers.PhoneNumberType.FIXED_LINE, phonenumbers.PhoneNumberType.MOBILE):
            example = phonenumbers.example_number_for_type(region, kind)
            if example is not None:
                found.add(phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164))
    return sorted(found)


# Real numbers of every region (phonenumbers' examples), as E.164.
EXAMPLES = _examples()

relevant_text = st.text(
    alphabet=st.sampled_from("0123456789+ ,;\n\r\t.-()x\u00a0\u202a\u2028é") | st.characters(),
    max_size=200,
)


@settings(max_examples=300)
@given(text=relevant_text, country=st.sampled_from(REGIONS))
def test_arbitrary_text_only_ever_raises_recipient_list_error(text: str, country: str) -> None:
    try:
        parse(text, country)
    except RecipientListError as error:
        refused = error
    else:
        return
    assert refused.problems or "no numbers" in str(refused)


@given(text=relevant_text, country=st.sampled_from(["FR", "US", "DE", "GB", "JE"]))
def test_reported_positions_point_at_the_entry_in_the_original_text(
    text: str, country: str
) -> None:
    lines = LINE_BREAK.split(text)
    try:
        result = parse(text, country)
    except RecipientListError as error:
        located = [(p.line, p.column, p.text) for p in error.problems]
    else:
        located = [(d.line, d.column, d.text) for d in result.duplicates]
        located += [(w.line, w.column, w.text) for w in result.warnings]
        located += [(e.line, e.column, e.text) for m in result.merges for e in m.entries]
    for line, column, entry in located:
        assert entry
        assert lines[line - 1][column - 1 :].startswith(entry)


def _written(digits: str, gaps: list[str]) -> str:
    """The digits with formatting the seed allows between them."""
    return "".join(d + g for d, g in zip(digits, gaps, strict=False)) + digits[len(gaps) :]


gaps = st.lists(st.sampled_from(["", "", " ", ".", "-", "\u00a0", " - "]), max_size=17)
separator_runs = st.builds(
    lambda before, run, after: before + run + after,
    st.text(" \t\u00a0", max_size=2),
    st.text(",;\r\n", min_size=1, max_size=4),
    st.text(" \t\u00a0", max_size=2),
)


@st.composite
def french_line_entry(draw: st.DrawFn) -> tuple[str, str]:
    """(entry as a French user may type it, its E.164)."""
    if draw(st.booleans()):
        national = str(draw(st.integers(100_000_000, 999_999_999)))
        written = _written("0" + national, draw(gaps))
        return written, "+33" + national
    e164 = draw(st.sampled_from(EXAMPLES))
    prefix = draw(st.sampled_from(["+", "+ ", "00", "00 "]))
    return prefix + _written(e164[1:], draw(gaps)), e164


@given(
    entries=st.lists(french_line_entry(), min_size=1, max_size=30),
    separators=st.lists(separator_runs, min_size=30, max_size=30),
    leading=st.text(",;\r\n \t", max_size=3),
)
def test_valid_lists_parse_to_exactly_their_numbers(
    entries: list[tuple[str, str]], separators: list[str], leading: str
) -> None:
    text = leading + "".join(e + s for (e, _), s in zip(entries, separators, strict=False))
    expected = list(dict.fromkeys(number for _, number in entries))

    result = parse(text)

    assert list(result.numbers) == expected
    assert len(result.duplicates) == len(entries) - len(expected)
    assert result.warnings == ()


# The guide's syntax: an optional '+' and 6 to 17 digits, with blanks and DESIGN.md's '. - ( )'.
guide_entry = st.builds(
    lambda plus, digits, gaps: plus + _written(digits, gaps),
    st.sampled_from(["", "+", "+ "]),
    st.from_regex(r"[0-9]{6,17}", fullmatch=True),
    st.lists(st.sampled_from(["", "", " ", ".", "-", "(", ")", " - ", "\u00a0"]), max_size=17),
)
# Entries the guide refuses, each for one reason.
refused_entry = st.one_of(
    st.from_regex(r"\+?[0-9]{0,5}", fullmatch=True).filter(lambda e: e not in ("",)),
    st.from_regex(r"\+?[0-9]{18,25}", fullmatch=True),
    st.from_regex(r"[0-9]{3,8}[a-zA-Z/#*][0-9]{3,8}", fullmatch=True),
    st.from_regex(r"[0-9]{3,8}\+[0-9]{3,8}", fullmatch=True),
)
separator = st.sampled_from([",", ";", ", ", " ; ", ",,", ";\t"])


def _lay_out(
    lines: list[list[str]], separators: list[str]
) -> tuple[str, list[tuple[int, int, str]]]:
    """A text of these entries (one list per line) and each entry's (line, column, text), the
    text without the blanks after it, as the parser reports it."""
    text_lines: list[str] = []
    placed: list[tuple[int, int, str]] = []
    for number, entries in enumerate(lines, start=1):
        line = ""
        for index, entry in enumerate(entries):
            if index:
                line += separators[(number + index) % len(separators)]
            placed.append((number, len(line) + 1, entry.rstrip()))
            line += entry
        text_lines.append(line)
    return "\n".join(text_lines), placed


@settings(max_examples=300)
@given(
    lines=st.lists(st.lists(guide_entry, min_size=1, max_size=4), min_size=1, max_size=8),
    separators=st.lists(separator, min_size=1, max_size=3),
    country=st.sampled_from(REGIONS),
)
def test_every_entry_the_guides_syntax_accepts_is_accepted(
    lines: list[list[str]], separators: list[str], country: str
) -> None:
    text, placed = _lay_out(lines, separators)

    result = parse(text, country)  # never refused

    # Each entry is one recipient or merged into one, and a number not made E.164 says why.
    assert len(result.numbers) + result.duplicate_count == len(placed)
    warned_numbers = {w.number for w in result.warnings}
    for number in result.numbers:
        assert number in warned_numbers or phonenumbers.is_possible_number(
            phonenumbers.parse(number)
        )
    typed = {(line, column, entry) for line, column, entry in placed}
    for warning in result.warnings:
        assert (warning.line, warning.column, warning.text) in typed
        assert warning.number == re.sub(r"[^0-9+]", "", warning.text)


@settings(max_examples=300)
@given(
    lines=st.lists(
        st.lists(guide_entry | refused_entry, min_size=1, max_size=4), min_size=1, max_size=8
    ),
    separators=st.lists(separator, min_size=1, max_size=3),
    country=st.sampled_from(["FR", "US", "DE", "GB", "JE"]),
)
def test_every_entry_the_guides_syntax_refuses_is_refused_with_its_line_and_column(
    lines: list[list[str]], separators: list[str], country: str
) -> None:
    text, placed = _lay_out(lines, separators)
    refused = [
        (line, column, entry)
        for line, column, entry in placed
        if not re.fullmatch(r"\+?[0-9]{6,17}", re.sub(r"[\s.()\-]", "", entry))
    ]

    if not refused:
        assert parse(text, country).numbers
        return
    assert [(p.line, p.column, p.text) for p in problems(text, country)] == refused


@given(
    entries=st.lists(st.from_regex(r"(\+|00)?[0-9]{6,15}", fullmatch=True), max_size=20),
    country=st.sampled_from(REGIONS),
)
def test_normalising_is_idempotent(entries: list[str], country: str) -> None:
    valid: list[str] = []
    for entry in entries:
        with contextlib.suppress(RecipientListError):
            valid.extend(parse(entry, country).numbers)
    if valid:
        once = parse("\n".join(valid), country)

        assert parse("\n".join(once.numbers), country).numbers == once.numbers
        assert set(once.numbers) == set(valid)


@settings(max_examples=500)
@given(
    digits=st.from_regex(r"\+?[0-9]{6,17}", fullmatch=True)
    | st.builds(
        lambda prefix, rest: (prefix + rest)[:17],
        st.sampled_from(["0", "00", "1", "8", "33", "44", "+0", "+1"]),
        st.from_regex(r"[0-9]{6,15}", fullmatch=True),
    ),
    region=st.sampled_from(REGIONS),
)
def test_the_fast_path_agrees_with_phonenumbers_parse(digits: str, region: str) -> None:
    # The fast path re-implements part of phonenumbers.parse for speed: it must never disagree.
    fast = phonenumbers_fast.parse(digits, phonenumbers_fast.plan_for_region(region))
    if fast is not None:
        assert fast == numbers._slow_parse(digits, region)


@given(national=st.from_regex(r"[0-9]{2,17}", fullmatch=True), region=st.sampled_from(REGIONS))
def test_the_length_test_agrees_with_is_possible_number(national: str, region: str) -> None:
    plan = phonenumbers_fast.plan_for_region(region)
    number = phonenumbers.PhoneNumber(country_code=plan.country_code)
    number.national_number = int(national)
    if national.startswith("0") and len(national) > 1:
        number.italian_leading_zero = True
        number.number_of_leading_zeros = len(national) - len(national.lstrip("0")) or None
    if phonenumbers.national_significant_number(number) == national:
        code_plan = phonenumbers_fast.plan_for_code(plan.country_code)
        assert phonenumbers_fast.length_result(national, code_plan) == (
            phonenumbers.is_possible_number_with_reason(number)
        )


@settings(max_examples=200)
@given(text=relevant_text, country=st.sampled_from(["FR", "US", "DE", "GB", "JE"]))
def test_stored_numbers_read_again_give_the_warnings_of_their_creation(
    text: str, country: str
) -> None:
    try:
        result = parse(text, country)
    except RecipientListError:
        return
    assert stored_warnings(result.numbers, country=country) == {
        w.number: w.reason for w in result.warnings
    }


def test_the_warned_numbers_of_a_list_are_those_kept_as_typed() -> None:
    result = parse("01 23 45 67 89, 123456; +123456\n01 23 45\n+33 6 12 34 56 78", "FR")
    found = stored_warnings(result.numbers, country="FR")
    assert sorted(found) == ["+123456", "012345", "123456"]
    assert found["123456"].code == "numbers.wrong_length"
