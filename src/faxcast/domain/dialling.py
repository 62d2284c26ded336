"""How a line dials a recipient's number: E.164 with `+`, an international prefix, or national.

Recipients are stored in E.164 (`+33123456789`), except entries phonenumbers cannot make E.164
(`numbers.NumberWarning`), kept as typed: national ones are already what the line's country
dials, and every rule passes them on as they are; a '+' one without a known country code goes
out with the international prefix under the national rule.
"""

from __future__ import annotations

import enum

import phonenumbers


class Dialling(enum.Enum):
    """The form a trunk expects a called number in."""

    E164 = "e164"  # +33123456789
    INTERNATIONAL = "international"  # 0033123456789 with the prefix "00"
    NATIONAL = "national"  # 0123456789 in the line's country, the prefix and E.164 digits abroad


def dial_string(number: str, rule: Dialling, *, country: str, international_prefix: str) -> str:
    """The digits to put in the Request-URI for a stored recipient `number`.

    `country` is the line's (ISO 3166 alpha-2): under the national rule, numbers with its country
    calling code are dialled with its national (trunk) prefix, as from a phone in that country.
    """
    if not number.startswith("+") or rule is Dialling.E164:
        return number
    international = international_prefix + number[1:]
    if rule is Dialling.INTERNATIONAL:
        return international
    region = country.upper()
    try:
        parsed = phonenumbers.parse(number)
    except phonenumbers.NumberParseException:
        return international
    if parsed.country_code != phonenumbers.country_code_for_region(region):
        return international
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
    trunk_prefix = (metadata.national_prefix if metadata else None) or ""
    return trunk_prefix + phonenumbers.national_significant_number(parsed)
