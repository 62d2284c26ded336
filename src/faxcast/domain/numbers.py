"""Recipient lists: split, check and normalise the numbers of a campaign (DESIGN.md, Recipients).

The seed's rule alone decides what is refused: entries are separated by ``,``, ``;`` or line
breaks, and each is an optional ``+`` and 6 to 17 digits, blanks and ``. - ( )`` ignored.
phonenumbers then turns each entry into E.164 with the line's country; an entry it cannot (a
length or country code the numbering plan does not have) is kept as typed, with a warning.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Final, Generic, NamedTuple, TypeVar

import phonenumbers
from phonenumbers import (
    NumberParseException,
    ValidationResult,
    shortnumberinfo,
)

from faxcast.domain import phonenumbers_fast as fast
from faxcast.errors import InputError
from faxcast.fields import Field
from faxcast.i18n import Message, OneOf, Param, codes

T = TypeVar("T")
MIN_DIGITS: Final = 6
MAX_DIGITS: Final = 17
DEFAULT_MAX_RECIPIENTS: Final = 10_000
MAX_LISTED: Final = 100
"""Bad entries (and duplicates) kept and reported at most; the rest are only counted, so that a
huge list of garbage costs no more memory than its text."""
# The error message lists this many problems; the exception's `problems` holds them all.
_PROBLEMS_IN_MESSAGE: Final = 10
_TEXT_IN_MESSAGE: Final = 40


@dataclass(frozen=True)
class EntryProblem:
    """An entry that is not a usable number; line and column are 1-based, in characters."""

    line: int
    column: int
    text: str
    reason: Message


@dataclass(frozen=True)
class Entry:
    """Where an entry is in the list (1-based, in characters) and its text as typed."""

    line: int
    column: int
    text: str


@dataclass(frozen=True)
class Duplicate:
    """An entry whose number appeared earlier in the list; it is sent only once."""

    line: int
    column: int
    text: str
    number: str


@dataclass(frozen=True)
class Merge:
    """Entries that are one number (repeated, or spelt differently): the first, then the others."""

    number: str
    entries: tuple[Entry, ...]


@dataclass(frozen=True)
class NumberWarning:
    """An entry kept but not made E.164: dialled as typed (a local or short number), or probably
    invalid for its country's numbering plan (`reason` says why)."""

    line: int
    column: int
    text: str
    number: str
    reason: Message


@dataclass(frozen=True)
class RecipientList:
    """Distinct numbers in first-seen order: E.164, except those listed in `warnings`."""

    numbers: tuple[str, ...]
    duplicates: tuple[Duplicate, ...]  # the first MAX_LISTED
    warnings: tuple[NumberWarning, ...] = ()  # the first MAX_LISTED
    duplicate_count: int = 0
    warning_count: int = 0
    merges: tuple[Merge, ...] = ()  # the numbers of `duplicates`, with each one's first entry
    # Each number's first entry as typed, blanks around it removed (so, often the number itself).
    typed: tuple[str, ...] = ()

    def told(self) -> tuple[Message, ...]:
        """What the user is told about the list: each warning, then each merged number."""
        told = [
            codes.NUMBERS_WARNING(
                line=w.line, column=w.column, text=_show(w.text), number=w.number, reason=w.reason
            )
            for w in self.warnings
        ]
        if self.warning_count > len(self.warnings):
            told.append(codes.NUMBERS_MORE(count=self.warning_count - len(self.warnings)))
        told += [
            codes.NUMBERS_MERGED(
                number=m.number,
                entries=tuple(
                    codes.NUMBERS_AT(line=e.line, column=e.column, text=_show(e.text))
                    for e in m.entries
                ),
            )
            for m in self.merges
        ]
        if self.duplicate_count > len(self.duplicates):
            told.append(codes.NUMBERS_MORE(count=self.duplicate_count - len(self.duplicates)))
        return tuple(told)


class RecipientListError(InputError):
    """A recipient list refused as a whole; `problems` lists the first MAX_LISTED invalid
    entries, `problem_count` counts them all."""

    def __init__(
        self,
        message: Message,
        problems: tuple[EntryProblem, ...] = (),
        *,
        problem_count: int | None = None,
    ) -> None:
        super().__init__(message, field=Field.RECIPIENTS_LIST)
        self.problems = problems
        self.problem_count = len(problems) if problem_count is None else problem_count


def parse_recipients(
    text: str, *, country: str, max_recipients: int = DEFAULT_MAX_RECIPIENTS
) -> RecipientList:
    """Split and normalise a recipient list, national numbers read in `country` (ISO alpha-2).

    Raises RecipientListError listing the first MAX_LISTED entries that break the seed's rule
    (and counting them all), or if the list is empty or too long; entries the numbering plan
    doubts are kept with a warning. Memory stays bounded by the limits, not the text.
    """
    region = country.upper()
    if region not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError(f"unknown country {country!r}: expected an ISO 3166 code such as 'FR'")
    region_plan = fast.plan_for_region(region)
    # One phonenumbers decision per distinct entry: lists repeat numbers, and it is the costly part.
    decided: dict[str, _Normalised] = {}
    # The distinct numbers in first-seen order (a dict keeps it), each with its first line (an
    # int the loop has made anyway) for the merges to name it.
    seen: dict[str, int] = {}
    typed: list[str] = []
    duplicates: _FirstFew[Duplicate] = _FirstFew()
    warnings: _FirstFew[NumberWarning] = _FirstFew()
    problems: _FirstFew[EntryProblem] = _FirstFew()
    # Past the limit the list is refused: further numbers are no longer kept, only noticed.
    beyond_limit = False
    # The cache is bounded too: past it, new entries are decided each time (slower, not bigger).
    cache_size = 2 * max_recipients + MAX_LISTED
    plain, ignored = _PLAIN.fullmatch, _IGNORED.sub
    for line, column, entry, is_plain in _entries(text):
        if is_plain:
            cleaned = entry
        else:
            cleaned = ignored("", entry)
            if not plain(cleaned):
                if problems.tally():  # the reason is worked out only for the entries listed
                    problems.first.append(
                        EntryProblem(line, column, entry, _digit_rule_problem(cleaned))
                    )
                continue
        normalised = decided.get(cleaned)
        if normalised is None:
            normalised = _normalise(cleaned, region, region_plan)
            if len(decided) < cache_size:
                decided[cleaned] = normalised
        number, note = normalised
        if number in seen:
            if duplicates.tally():
                duplicates.first.append(Duplicate(line, column, entry, number))
        elif len(seen) > max_recipients:
            beyond_limit = True
        else:
            seen[number] = line
            typed.append(entry)
            if note is not None and warnings.tally():
                warnings.first.append(NumberWarning(line, column, entry, number, note))
    too_many = _too_many(len(seen), max_recipients, beyond_limit=beyond_limit)
    if problems.count:
        raise RecipientListError(
            _summary(problems.first, problems.count, too_many),
            tuple(problems.first),
            problem_count=problems.count,
        )
    if too_many:
        raise RecipientListError(too_many)
    if not seen:
        raise RecipientListError(codes.NUMBERS_NONE())
    return RecipientList(
        tuple(seen),
        tuple(duplicates.first),
        tuple(warnings.first),
        duplicates.count,
        warnings.count,
        _merges(text, duplicates.first, seen, decided, (region, region_plan)),
        tuple(typed),
    )


def warned(numbers: Iterable[str], *, country: str) -> dict[str, Message]:
    """The stored numbers that were kept as typed, each with why: read again as at creation (a
    number made E.164 reads as itself), so that nothing more is stored for them."""
    region = country.upper()
    region_plan = fast.plan_for_region(region)
    found: dict[str, Message] = {}
    for number in numbers:
        note = _normalise(number, region, region_plan).note
        if note is not None:
            found[number] = note
    return found


def _merges(
    text: str,
    duplicates: list[Duplicate],
    first_lines: dict[str, int],
    decided: dict[str, _Normalised],
    country: tuple[str, fast.Plan],
) -> tuple[Merge, ...]:
    """The listed duplicates grouped by number, each group led by the number's first entry.

    Only the first entries' lines are remembered while parsing (a column and text for every
    number would slow every list down): they are read again here, and only those lines.
    """
    if not duplicates:
        return ()
    firsts: dict[str, Entry | None] = dict.fromkeys(d.number for d in duplicates)
    lines = {first_lines[number] for number in firsts}
    plain, ignored = _PLAIN.fullmatch, _IGNORED.sub
    for line_number, line in enumerate(_lines(text), start=1):
        if line_number not in lines:
            continue
        for _, column, entry, is_plain in _entries(line):  # the line alone: no line break
            cleaned = entry if is_plain else ignored("", entry)
            if not plain(cleaned):
                continue
            normalised = decided.get(cleaned) or _normalise(cleaned, *country)
            if normalised.number in firsts and firsts[normalised.number] is None:
                firsts[normalised.number] = Entry(line_number, column, entry)
        lines.discard(line_number)
        if not lines:
            break
    groups: dict[str, list[Entry]] = {}
    for duplicate in duplicates:
        group = groups.get(duplicate.number)
        if group is None:
            first = firsts[duplicate.number]
            group = groups[duplicate.number] = [] if first is None else [first]
        group.append(Entry(duplicate.line, duplicate.column, duplicate.text))
    return tuple(Merge(number, tuple(entries)) for number, entries in groups.items())


def _too_many(count: int, limit: int, *, beyond_limit: bool) -> Message | None:
    """What is wrong with the list's length: more than the limit, counted or not."""
    if beyond_limit:
        return codes.NUMBERS_TOO_MANY_OVER(count=limit)
    if count > limit:
        return codes.NUMBERS_TOO_MANY(count=count, limit=limit)
    return None


@dataclass
class _FirstFew(Generic[T]):
    """The first MAX_LISTED items of a kind, and how many there were in all."""

    first: list[T] = field(default_factory=list)
    count: int = 0

    def tally(self) -> bool:
        """Count one more item; whether it is among the first MAX_LISTED, for the caller to keep."""
        self.count += 1
        return len(self.first) < MAX_LISTED


# ---------------------------------------------------------------------------------------------
# Splitting and the seed's digit rule

# Line numbers count CR, LF and CRLF, as editors do; the other line ends Unicode knows (VT, FF,
# FS, GS, RS, NEL, LS, PS) only separate entries, so that two numbers never silently merge.
_LINE_BREAK: Final = re.compile(r"\r\n?|\n")
_ENTRY: Final = re.compile(r"[^,;\x0b\x0c\x1c-\x1e\x85\u2028\u2029]+")
_PLAIN: Final = re.compile(r"\+?[0-9]{6,17}")
# Invisible formatting characters come along when numbers are copied from mail, chat or web
# pages (Outlook wraps numbers in U+202A/U+202C): they count as blanks, and so do soft hyphens.
_INVISIBLE: Final = (
    "".join(
        chr(c)
        for first, last in ((0xAD, 0xAD), (0x200B, 0x200F), (0x202A, 0x202E), (0x2060, 0x2069))
        for c in range(first, last + 1)
    )
    + "\ufeff"
)
# Unicode's whitespace ends at U+3000 (the ideographic space).
_BLANKS: Final = "".join(chr(c) for c in range(0x3001) if chr(c).isspace()) + _INVISIBLE
# Unicode dashes and the minus sign are the typographer's version of the seed's '-'.
_IGNORED: Final = re.compile(rf"[\s.()\-\u2010-\u2015\u2212{_INVISIBLE}]+")


# Lines are split a chunk of about this many characters at a time: a split of the whole text
# would hold every line at once, a line at a time costs a regex search per line.
_CHUNK: Final = 1 << 16


def _lines(text: str) -> Iterator[str]:
    """The text's lines, a chunk at a time."""
    start = 0
    while True:
        # A chunk ends just after a LF, so no CRLF is cut in two.
        end = text.find("\n", start + _CHUNK) + 1
        if not end:
            yield from _LINE_BREAK.split(text[start:])
            return
        lines = _LINE_BREAK.split(text[start:end])
        lines.pop()  # the empty text after the chunk's last LF: the next chunk's first line
        yield from lines
        start = end


def _entries(text: str) -> Iterator[tuple[int, int, str, bool]]:
    """(line, column, text, plain) of every non-blank entry, surrounding blanks removed; plain
    when the text is already an optional '+' and 6 to 17 digits."""
    plain = _PLAIN.fullmatch
    for line_number, line in enumerate(_lines(text), start=1):
        if plain(line):
            # The common case: one clean number per line.
            yield line_number, 1, line, True
            continue
        for match in _ENTRY.finditer(line):
            raw = match.group()
            left = raw.lstrip(_BLANKS)
            if left:
                entry = left.rstrip(_BLANKS)
                column = match.start() + len(raw) - len(left) + 1
                yield line_number, column, entry, plain(entry) is not None


def _digit_rule_problem(cleaned: str) -> Message:
    """Why an entry, blanks and punctuation removed, is not an optional '+' and 6 to 17 digits."""
    for index, char in enumerate(cleaned):
        if char == "+":
            if index > 0:
                return codes.PLUS_NOT_FIRST()
        elif char not in "0123456789":
            if char.isdigit():
                return codes.ODD_DIGIT(char=_show_char(char))
            return codes.NOT_A_DIGIT(char=_show_char(char))
    digits = len(cleaned) - cleaned.startswith("+")
    if digits == 0:
        return codes.NO_DIGITS(min=MIN_DIGITS)
    if digits < MIN_DIGITS:
        return codes.TOO_FEW_DIGITS(count=digits, min=MIN_DIGITS)
    return codes.TOO_MANY_DIGITS(count=digits, max=MAX_DIGITS)


def _show_char(char: str) -> str:
    return f"'{char}'" if char.isprintable() else f"U+{ord(char):04X}"


def _show(text: str) -> str:
    shown = "".join(c if c.isprintable() else f"U+{ord(c):04X}" for c in text[:_TEXT_IN_MESSAGE])
    return shown + ("…" if len(text) > _TEXT_IN_MESSAGE else "")


def _summary(problems: list[EntryProblem], count: int, too_many: Message | None) -> Message:
    entries = [
        codes.NUMBERS_ENTRY(line=p.line, column=p.column, text=_show(p.text), reason=p.reason)
        for p in problems[:_PROBLEMS_IN_MESSAGE]
    ]
    if count > _PROBLEMS_IN_MESSAGE:
        entries.append(codes.NUMBERS_MORE(count=count - _PROBLEMS_IN_MESSAGE))
    if too_many:
        entries.append(codes.NUMBERS_ALSO(problem=too_many))
    return codes.NUMBERS_INVALID(count=count, entries=tuple(entries))


# ---------------------------------------------------------------------------------------------
# Normalisation with phonenumbers
#
# Only the seed's 6-17 digit rule refuses an entry: the provider takes what it accepts, so
# faxcast does too. phonenumbers then reads each entry; one it cannot make E.164 is kept as typed
# (its digits and '+') with a warning: a '+' or international prefix not followed by a country
# code, or a length no number of that country has (is_possible_number). We do not use
# is_valid_number: it also checks number ranges, which go stale as plans change, and would warn
# about special and foreign numbers that are real. A national entry that is a local number
# without its area code, or a known short number of the line's country, is dialled as typed and
# says so.
#
# Speed: phonenumbers.parse is too slow for 100 000 recipients; `phonenumbers_fast` follows its
# steps for the common shapes of entry, and _read asks phonenumbers itself for the rest.


class _Normalised(NamedTuple):
    number: str
    note: Message | None  # why `number` is the entry as typed rather than E.164


def _normalise(cleaned: str, region: str, region_plan: fast.Plan) -> _Normalised:
    """E.164 (or the digits kept as typed) for an entry that passed the digit rule."""
    first = _read(cleaned, region, region_plan)
    number = first.number
    if first.note is not None or number == cleaned:
        return first
    # The E.164 form must read back as itself, or the list would change each time it is parsed:
    # phonenumbers keeps a national prefix it cannot strip in national numbers, and strips it
    # after a '+' (JE "0849917976" gives +440849917976, which reads as +44849917976).
    if _PLAIN.fullmatch(number) and (
        fast.reads_as_itself(number) or _read(number, region, region_plan) == (number, None)
    ):
        return first
    return _Normalised(cleaned, codes.NOT_ITSELF(number=number))


def _read(cleaned: str, region: str, region_plan: fast.Plan) -> _Normalised:
    """One reading of an entry by phonenumbers' rules, its length judged by is_possible_number."""
    parsed = fast.parse(cleaned, region_plan)
    if parsed is None:
        parsed_or_problem = _slow_parse(cleaned, region)
        if isinstance(parsed_or_problem, Message):
            return _Normalised(cleaned, parsed_or_problem)
        parsed = parsed_or_problem
    plan = fast.plan_for_code(parsed.country_code)
    result = fast.length_result(parsed.national_number, plan)
    if result == ValidationResult.IS_POSSIBLE:
        return _Normalised(f"+{plan.code_digits}{parsed.national_number}", None)
    if parsed.national:
        if result == ValidationResult.IS_POSSIBLE_LOCAL_ONLY:
            return _Normalised(cleaned, codes.LOCAL_NUMBER(region=region))
        short = phonenumbers.parse(cleaned, region)
        if shortnumberinfo.is_valid_short_number_for_region(short, region):
            return _Normalised(cleaned, codes.SHORT_NUMBER(region=region))
    # A national entry too long for its country is most often an international one without '+'.
    add_plus = parsed.national and result == ValidationResult.TOO_LONG
    reason = (codes.WRONG_LENGTH_NATIONAL if add_plus else codes.WRONG_LENGTH)(
        where=_country_name(parsed.country_code, region if parsed.national else None),
        lengths=_lengths_text(plan.lengths),
        code=plan.code_digits,
        count=len(parsed.national_number),
    )
    return _Normalised(cleaned, reason)


def _slow_parse(cleaned: str, region: str) -> fast.Parsed | Message:
    """phonenumbers.parse itself, or the reason it refused the entry."""
    try:
        number = phonenumbers.parse(cleaned, region, keep_raw_input=True)
    except NumberParseException as error:
        return _parse_problem(cleaned, error)
    assert number.country_code is not None
    return fast.Parsed(
        number.country_code,
        phonenumbers.national_significant_number(number),
        national=number.country_code_source == phonenumbers.CountryCodeSource.FROM_DEFAULT_COUNTRY,
    )


def _parse_problem(cleaned: str, error: NumberParseException) -> Message:
    if error.error_type == NumberParseException.INVALID_COUNTRY_CODE:
        if cleaned.startswith("+"):
            return codes.NO_COUNTRY_CODE()
        return codes.NO_COUNTRY_CODE_AFTER_PREFIX()
    if error.error_type in (
        NumberParseException.TOO_SHORT_AFTER_IDD,
        NumberParseException.TOO_SHORT_NSN,
    ):
        return codes.TOO_SHORT_AFTER_COUNTRY_CODE()
    return codes.UNREADABLE()


def _country_name(country_code: int, region: str | None = None) -> Message:
    if region is not None:
        return codes.IN_COUNTRY(region=region)
    regions = phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(country_code, ())
    if len(regions) == 1 and regions[0] != phonenumbers.REGION_CODE_FOR_NON_GEO_ENTITY:
        return codes.IN_COUNTRY(region=regions[0])
    return codes.IN_COUNTRY_CODE(code=str(country_code))


def _lengths_text(lengths: tuple[int, ...]) -> Param:
    if len(lengths) == 1:
        return str(lengths[0])
    if lengths == tuple(range(lengths[0], lengths[-1] + 1)):
        return codes.LENGTHS_RANGE(first=lengths[0], last=lengths[-1])
    return OneOf(tuple(map(str, lengths)))
