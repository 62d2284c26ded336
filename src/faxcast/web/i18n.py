"""The web pages' side of faxcast.i18n: a request's language, dates, and texts stored in English.

The pages' labels are in the package's gettext catalogs (faxcast/i18n/en.po and fr.po), under
the keys the templates pass to t(key, ...); French follows the provider's guide (the seed).
"""

from __future__ import annotations

from datetime import datetime
from typing import Final
from zoneinfo import ZoneInfo

from faxcast import i18n
from faxcast.i18n import LANGUAGE_NAMES, LANGUAGES, Translator, translator

__all__ = [
    "LANGUAGES",
    "LANGUAGE_NAMES",
    "Translator",
    "format_datetime",
    "negotiate",
    "sentence",
    "stored_reason",
    "translator",
]

# Reasons the dispatcher stores as text, and the key of those that have a translation.
_STORED_REASONS: Final = {"delivered": "reason.delivered"}


def negotiate(accept_language: str | None, cookie: str | None) -> str:
    """The language to answer in: the "lang" cookie, else the browser's first supported one."""
    if cookie in LANGUAGES:
        return cookie
    return i18n.negotiate(accept_language)


def stored_reason(lang: str, reason: str) -> tuple[str, str | None]:
    """A call's stored reason in `lang`, and "en" when it has no translation (so a screen
    reader reads it right)."""
    key = _STORED_REASONS.get(reason)
    if key is not None:
        return translator(lang)(key), None
    return reason, None if lang == "en" or not reason else "en"


def sentence(message: str) -> str:
    """A service message as a sentence: capital first letter, final full stop."""
    if not message:
        return message
    message = message[0].upper() + message[1:]
    return message if message[-1] in ".!?…" else message + "."


def format_datetime(moment: datetime | None, timezone: str, lang: str) -> str:
    """A UTC time as the account reads it: 25/11/2026 14:05 in French, 2026-11-25 14:05 else."""
    if moment is None:
        return ""
    local = moment.astimezone(ZoneInfo(timezone))
    return local.strftime("%d/%m/%Y %H:%M" if lang == "fr" else "%Y-%m-%d %H:%M")
