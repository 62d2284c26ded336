"""Messages in English and French: stable codes with parameters, gettext catalogs, the language.

A message a user can see is a `Message`: a code declared once (`codes.py`) and its parameters.
Its text lives only in the catalogs `en.po` and `fr.po` beside this module, which Babel reads
into memory the first time a text is needed (no build step, nothing compiled to go stale).
`str(message)` is the English text, for logs. A message with a `count` parameter is a plural
entry, chosen by that count (ngettext). The web pages' labels share the catalogs, by key.
"""

from __future__ import annotations

import functools
import gettext
import io
import re
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Final

LANGUAGES: Final = ("en", "fr")
DEFAULT_LANGUAGE: Final = "en"
LANGUAGE_NAMES: Final[Mapping[str, str]] = {"en": "English", "fr": "Français"}
COUNT: Final = "count"


@dataclass(frozen=True)
class Message:
    """Something to tell a user: a declared code and the values its text puts in."""

    code: str
    params: Mapping[str, Param]

    def __str__(self) -> str:
        return translator(DEFAULT_LANGUAGE).message(self)


@dataclass(frozen=True)
class OneOf:
    """Alternatives shown as "a, b or c" in the reader's language."""

    items: tuple[str | Message, ...]


@dataclass(frozen=True)
class Figure:
    """A number shown with `places` decimals in the reader's language: 20.97 or 20,97."""

    value: float
    places: int


MEBIBYTE: Final = 1024 * 1024
_MAX_PLACES: Final = 7
"""Enough decimals of a megabyte to tell apart two sizes one byte apart."""


def megabytes(size: int) -> Figure:
    """A size in megabytes (of 1024 x 1024 bytes): "20" and "0.5" exactly, else two decimals."""
    mb = size / MEBIBYTE
    return Figure(mb, next((p for p in range(2) if round(mb, p) == mb), 2))


def size_over_limit(size: int, limit: int) -> tuple[Figure, Figure]:
    """A size and the limit it passes, in megabytes, with the fewest decimals (two at least)
    that still show the size larger: 20.97 and 20, or 20.000001 and 20 for one byte more."""
    mb, shown_limit = size / MEBIBYTE, megabytes(limit)
    places = next(
        (p for p in range(2, _MAX_PLACES) if round(mb, p) > round(shown_limit.value, p)),
        _MAX_PLACES,
    )
    if round(shown_limit.value, shown_limit.places) != shown_limit.value:
        # A limit that is no round figure is shown as precisely as the size it is compared to.
        shown_limit = Figure(shown_limit.value, places)
    return Figure(mb, places), shown_limit


Param = str | int | float | Message | OneOf | Figure | tuple[str | Message, ...]
"""A message's value: put in as it is, or itself translated; a tuple is a list of them."""

_DECLARED: dict[str, Code] = {}


@dataclass(frozen=True)
class Code:
    """A message declared once, with the names of its parameters; calling it makes a Message."""

    code: str
    params: frozenset[str]

    def __call__(self, **params: Param) -> Message:
        """The message with these values; every declared parameter and no other."""
        if params.keys() != self.params:
            raise TypeError(f"{self.code} takes {sorted(self.params)}, not {sorted(params)}")
        return Message(self.code, params)

    @property
    def plural(self) -> bool:
        """Whether the text depends on a count (a plural entry in the catalogs)."""
        return COUNT in self.params


def declare(code: str, *params: str) -> Code:
    """Declare a message code and its parameters; a code is declared only once."""
    if code in _DECLARED:
        raise ValueError(f"message code {code!r} is declared twice")
    declared = Code(code, frozenset(params))
    _DECLARED[code] = declared
    return declared


def declared() -> tuple[Code, ...]:
    """Every declared code (those of `codes.py` once it is imported)."""
    return tuple(_DECLARED.values())


# How the translator writes a OneOf ("a, b or c") and a tuple ("a; b").
_JOIN_OR = declare("join.or", "rest", "last")
_JOIN_SEPARATOR = declare("join.separator")


class Translator:
    """Texts in one language: t(key, **values) for a page's label, t.message(m) for a Message."""

    def __init__(self, lang: str, translations: gettext.GNUTranslations) -> None:
        self.lang = lang
        self._translations = translations

    def __call__(self, key: str, **values: Param) -> str:
        """The text of `key` with `values` put in; the `count` value picks the plural form."""
        count = values.get(COUNT)
        if isinstance(count, int):
            text = self._translations.ngettext(key, key, count)
        else:
            text = self._translations.gettext(key)
        if not values:
            return text
        return text.format(**{name: self._value(value) for name, value in values.items()})

    def message(self, message: Message) -> str:
        """The message's text in this language."""
        return self(message.code, **message.params)

    def _value(self, value: Param) -> str | int | float:
        if isinstance(value, Message):
            return self.message(value)
        if isinstance(value, OneOf):
            items = [self._value(item) for item in value.items]
            if len(items) == 1:
                return items[0]
            return self.message(_JOIN_OR(rest=", ".join(map(str, items[:-1])), last=items[-1]))
        if isinstance(value, Figure):
            # Imported here, like the catalogs' reader: only a process with a figure to show
            # pays for it.
            from babel.numbers import format_decimal

            pattern = "#,##0" + ("." + "0" * value.places if value.places else "")
            return format_decimal(value.value, format=pattern, locale=self.lang)
        if isinstance(value, tuple):
            return self.message(_JOIN_SEPARATOR()).join(str(self._value(item)) for item in value)
        return value


@functools.cache
def translator(lang: str) -> Translator:
    """The texts of a supported language (ValueError otherwise); French falls back to English."""
    if lang not in LANGUAGES:
        raise ValueError(f"unsupported language {lang!r}: expected one of {LANGUAGES}")
    translations = _load(lang)
    if lang != DEFAULT_LANGUAGE:
        translations.add_fallback(_load(DEFAULT_LANGUAGE))
    return Translator(lang, translations)


def catalog_text(lang: str) -> str:
    """The .po catalog of `lang`, as shipped in the package."""
    return resources.files(__name__).joinpath(f"{lang}.po").read_text(encoding="utf-8")


def _load(lang: str) -> gettext.GNUTranslations:
    # Imported here, so that a process pays for Babel only once it has something to say.
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    # Babel reads the .po and writes the .mo gettext wants into memory.
    mo = io.BytesIO()
    write_mo(mo, read_po(io.StringIO(catalog_text(lang))))
    mo.seek(0)
    return gettext.GNUTranslations(mo)


_QUALITY: Final = re.compile(r"q=([0-9.]+)")


def negotiate(accept_language: str | None) -> str:
    """The language for an Accept-Language header: its first supported one, else English."""
    weighted: list[tuple[float, int, str]] = []
    for index, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        match = _QUALITY.search(params)
        if match:
            try:
                quality = float(match.group(1))
            except ValueError:
                quality = 0.0
        primary = _primary(tag)
        if primary in LANGUAGES and quality > 0:
            weighted.append((-quality, index, primary))
    return min(weighted)[2] if weighted else DEFAULT_LANGUAGE


def environment_language(environ: Mapping[str, str]) -> str:
    """The language of a command's locale, read as gettext does: LANGUAGE, LC_ALL, LC_MESSAGES,
    then LANG; C, POSIX and unsupported languages give English."""
    for variable in ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        value = environ.get(variable, "")
        if value:
            # LANGUAGE is a list ("fr:en"); the locale variables hold one name ("fr_FR.UTF-8").
            for name in value.split(":"):
                if _primary(name) in LANGUAGES:
                    return _primary(name)
            return DEFAULT_LANGUAGE
    return DEFAULT_LANGUAGE


def _primary(tag: str) -> str:
    """The language of a tag or locale name: "fr" for fr-CA, fr_FR.UTF-8 and fr_BE@euro."""
    return re.split(r"[-_.@]", tag.strip().lower(), maxsplit=1)[0]
