"""A short form's errors: each service refusal beside its field, worded in the page's language."""

from __future__ import annotations

from typing import Final

from faxcast.errors import FaxcastError, InputError, MultipleInputError
from faxcast.web import i18n

FORM: Final = "form"


def by_field(error: FaxcastError, t: i18n.Translator) -> dict[str, str]:
    """The first message for each form field the error names ("form": the whole form, as for
    a refusal such as removing the last admin)."""
    errors = error.errors if isinstance(error, MultipleInputError) else (error,)
    found: dict[str, str] = {}
    for e in errors:
        field = e.field if isinstance(e, InputError) else None
        name = field.form if field is not None and field.form is not None else FORM
        found.setdefault(name, _sentence(e, t))
    return found


def _sentence(error: FaxcastError, t: i18n.Translator) -> str:
    """The message as a sentence; a login or name it starts with keeps its case."""
    text = t.message(error.message)
    values = [v for v in error.message.params.values() if isinstance(v, str) and v]
    if text and any(text.startswith(value) for value in values):
        return text if text[-1] in ".!?…" else text + "."
    return i18n.sentence(text)
