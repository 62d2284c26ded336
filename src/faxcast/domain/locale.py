"""Where and in what language an account reads times and texts: its time zone and language."""

from __future__ import annotations

import zoneinfo

from faxcast.errors import InputError
from faxcast.fields import Field
from faxcast.i18n import LANGUAGES, OneOf, codes


def timezone_error(zone: str) -> InputError | None:
    """Why `zone` is no IANA time zone; None when it is one."""
    try:
        zoneinfo.ZoneInfo(zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return InputError(codes.UNKNOWN_TIMEZONE(zone=zone), field=Field.TIMEZONE)
    return None


def language_error(language: str) -> InputError | None:
    """Why `language` is not one faxcast speaks; None when it is."""
    if language not in LANGUAGES:
        return InputError(
            codes.UNKNOWN_LANGUAGE(language=language, languages=OneOf(LANGUAGES)),
            field=Field.LANGUAGE,
        )
    return None
