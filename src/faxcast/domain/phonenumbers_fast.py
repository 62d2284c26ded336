"""phonenumbers' parse and length test, re-implemented for the common shapes of entry, for speed.

phonenumbers.parse costs about 25 µs, too much for 100 000 recipients. `parse` follows
parse's steps on the digits for the common shapes and answers None for the rest (an
international prefix, the country code written without '+', national prefix transform rules),
for the caller to ask phonenumbers itself. `Plan` holds a region's metadata compiled once.
tests/unit/test_numbers.py checks that both always give the same answer.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Final, NamedTuple

import phonenumbers
from phonenumbers import PhoneMetadata, ValidationResult


class Parsed(NamedTuple):
    """A number as phonenumbers.parse reads it."""

    country_code: int
    national_number: str
    national: bool  # read with the line's country, not from a '+', a prefix or a country code


@dataclass(frozen=True)
class Plan:
    """What phonenumbers' metadata says about one region, compiled once."""

    country_code: int
    code_digits: str
    international_prefix: re.Pattern[str] | None
    national_prefix: re.Pattern[str] | None
    has_transform_rule: bool
    general: re.Pattern[str] | None
    lengths: tuple[int, ...]
    local_lengths: tuple[int, ...]


_COUNTRY_CODES: Final = {str(code): code for code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE}


@functools.cache
def plan_for_region(region: str) -> Plan:
    """The plan national numbers are read with in `region` (ISO alpha-2, upper case)."""
    metadata = PhoneMetadata.metadata_for_region(region)
    assert metadata is not None, region
    return _plan(metadata)


@functools.cache
def plan_for_code(country_code: int) -> Plan:
    """The plan a number after +`country_code` is judged by."""
    # As is_possible_number does: a shared code (+1, +7, +44…) follows its main region's metadata.
    main_region = phonenumbers.region_code_for_country_code(country_code)
    metadata = PhoneMetadata.metadata_for_region_or_calling_code(country_code, main_region)
    assert metadata is not None, country_code
    return _plan(metadata)


def _plan(metadata: PhoneMetadata) -> Plan:
    general = metadata.general_desc
    assert general is not None
    assert metadata.country_code is not None
    return Plan(
        country_code=metadata.country_code,
        code_digits=str(metadata.country_code),
        international_prefix=_compiled(metadata.international_prefix),
        national_prefix=_compiled(metadata.national_prefix_for_parsing),
        has_transform_rule=bool(metadata.national_prefix_transform_rule),
        general=_compiled(general.national_number_pattern),
        lengths=general.possible_length,
        local_lengths=general.possible_length_local_only,
    )


def _compiled(pattern: str | None) -> re.Pattern[str] | None:
    return re.compile(pattern) if pattern else None


def length_result(national_number: str, plan: Plan) -> int:
    """phonenumbers' length test (its _test_number_length) against the general description."""
    length = len(national_number)
    if length in plan.local_lengths:
        return ValidationResult.IS_POSSIBLE_LOCAL_ONLY
    if length in plan.lengths:
        return ValidationResult.IS_POSSIBLE
    if length < plan.lengths[0]:
        return ValidationResult.TOO_SHORT
    if length > plan.lengths[-1]:
        return ValidationResult.TOO_LONG
    return ValidationResult.INVALID_LENGTH


def reads_as_itself(e164: str) -> bool:
    """Whether phonenumbers surely reads an E.164 number back as itself (False: ask it): reading
    '+' digits only ever strips a national prefix."""
    code = _country_code_of(e164[1:])
    if code is None:
        return False
    plan = plan_for_code(code)
    prefix = plan.national_prefix
    return prefix is None or prefix.match(e164[1 + len(plan.code_digits) :]) is None


def parse(cleaned: str, region_plan: Plan) -> Parsed | None:
    """What phonenumbers.parse gives for the common shapes of entry, or None to ask it."""
    if cleaned[0] == "+":
        digits = cleaned[1:]
        code = _country_code_of(digits)
        if code is None:
            return None
        plan = plan_for_code(code)
        national_number = digits[len(plan.code_digits) :]
    else:
        plan = region_plan
        idd = plan.international_prefix
        if (idd is not None and idd.match(cleaned)) or cleaned.startswith(plan.code_digits):
            return None
        national_number = cleaned
    if len(national_number) < 2:
        return None
    prefix = plan.national_prefix
    match = prefix.match(national_number) if prefix is not None else None
    if match is not None:
        if plan.has_transform_rule:
            return None
        stripped = national_number[match.end() :]
        general = plan.general
        # parse keeps the prefix when the number fits the national pattern only with it, and
        # when what remains has no possible length.
        keeps_prefix = (
            general is not None
            and general.fullmatch(stripped) is None  # first: most numbers fit without it
            and general.fullmatch(national_number) is not None
        )
        if not keeps_prefix and length_result(stripped, plan) not in _KEEP_PREFIX_RESULTS:
            national_number = stripped
    return Parsed(plan.country_code, national_number, national=cleaned[0] != "+")


def _country_code_of(digits: str) -> int | None:
    # Country codes are prefix-free, so at most one of these is a code.
    return (
        _COUNTRY_CODES.get(digits[:1])
        or _COUNTRY_CODES.get(digits[:2])
        or _COUNTRY_CODES.get(digits[:3])
    )


_KEEP_PREFIX_RESULTS: Final = (
    ValidationResult.TOO_SHORT,
    ValidationResult.IS_POSSIBLE_LOCAL_ONLY,
    ValidationResult.INVALID_LENGTH,
)
