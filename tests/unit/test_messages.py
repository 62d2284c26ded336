"""Messages and their catalogs: every declared code has its text, in each plural form, in
English and French, and the texts use exactly the values the code declares."""

from __future__ import annotations

import string

import pytest
from babel.messages.catalog import Message

from faxcast.domain.access import AuditAction
from faxcast.errors import InputError, MultipleInputError
from faxcast.fields import Field
from faxcast.i18n import (
    LANGUAGES,
    OneOf,
    codes,
    declare,
    declared,
    environment_language,
    negotiate,
    translator,
)
from faxcast.services.spreadsheets import AUDIT_COLUMNS
from tests.catalogs import catalog_keys, read_catalog

PLURAL_FORMS = {"en": 2, "fr": 2}


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def forms(message: Message) -> tuple[str, ...]:
    """A catalog entry's text, or each of its plural forms."""
    text = message.string
    return (text,) if isinstance(text, str) else tuple(text or ())


def test_every_declared_code_is_translated_in_every_form_with_its_values() -> None:
    assert len(declared()) > 100  # codes.py was read
    for lang in LANGUAGES:
        catalog = read_catalog(lang)
        assert catalog.num_plurals == PLURAL_FORMS[lang], lang
        for code in declared():
            message = catalog.get(code.code)
            assert message is not None, (lang, code.code)
            assert message.pluralizable == code.plural, (lang, code.code)
            texts = forms(message)
            assert len(texts) == (PLURAL_FORMS[lang] if code.plural else 1), (lang, code.code)
            for text in texts:
                assert text, (lang, code.code)
                assert placeholders(text) == code.params, (lang, code.code, text)


def test_both_catalogs_hold_the_same_keys_and_every_plural_form() -> None:
    assert catalog_keys("en") == catalog_keys("fr")
    english, french = read_catalog("en"), read_catalog("fr")
    for message in english:
        if not message.id:
            continue  # the header
        other = french.get(message.id)
        assert other is not None
        assert other.pluralizable == message.pluralizable, message.id
        texts = (*forms(message), *forms(other))
        assert all(texts), message.id
        used = {frozenset(placeholders(text)) for text in texts}
        assert len(used) == 1, (message.id, used)
        # A count chooses the form; a plural entry without one could never be chosen.
        assert message.pluralizable == ("count" in used.pop()), message.id


def test_a_code_is_declared_once_and_takes_exactly_its_values() -> None:
    with pytest.raises(ValueError, match="declared twice"):
        declare(codes.NAME_EMPTY.code)
    with pytest.raises(TypeError, match="takes"):
        codes.NAME_TOO_LONG(count=101)


@pytest.mark.parametrize(
    ("count", "english", "french"),
    [
        (0, "has 0 digits", "a 0 chiffre"),
        (1, "has 1 digit", "a 1 chiffre"),
        (2, "has 2 digits", "a 2 chiffres"),
    ],
)
def test_the_count_chooses_the_plural_form_of_each_language(
    count: int, english: str, french: str
) -> None:
    message = codes.TOO_FEW_DIGITS(count=count, min=6)

    assert str(message).startswith(english + ", ")
    assert translator("fr").message(message).startswith(french + " ; ")


def test_values_that_are_messages_are_translated_too() -> None:
    states = OneOf((codes.STATE_SCHEDULED(), codes.STATE_RUNNING(), codes.STATE_ERROR()))
    refusal = codes.CANNOT_DELETE(name="Relance", state=codes.STATE_RUNNING(), allowed=states)

    assert str(refusal) == (
        "cannot delete campaign 'Relance': it is running; "
        "only a scheduled, running or error campaign can be deleted"
    )
    assert translator("fr").message(refusal) == (
        "impossible de supprimer la campagne « Relance » : elle est en cours ; "
        "seule une campagne programmée, en cours ou en erreur peut être supprimée"
    )


def test_an_error_is_english_in_logs_and_keeps_its_code() -> None:
    name = InputError(codes.NAME_EMPTY(), field=Field.NAME)
    both = MultipleInputError([name, InputError(codes.ENTER_NUMBERS())])

    assert str(name) == "the campaign name is empty"
    assert name.message.code == "campaign.name_empty"
    assert str(both) == "name: the campaign name is empty; input: enter at least one fax number"
    assert translator("fr").message(both.message) == (
        "name : le nom de la campagne est vide ; input : entrez au moins un numéro de fax"
    )


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        ("fr-FR,fr;q=0.9,en;q=0.8", "fr"),
        ("de-DE,en;q=0.5,fr;q=0.4", "en"),
        ("de, fr-CA;q=0.7", "fr"),
        ("en;q=0, fr;q=0.1", "fr"),
        ("fr;q=0", "en"),
        ("*", "en"),
        (None, "en"),
    ],
)
def test_http_clients_get_their_first_supported_language(accept: str | None, expected: str) -> None:
    assert negotiate(accept) == expected


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({"LANG": "fr_FR.UTF-8"}, "fr"),
        ({"LANG": "fr_BE@euro"}, "fr"),
        ({"LANG": "fr_FR.UTF-8", "LC_ALL": "C"}, "en"),
        ({"LANG": "C.UTF-8", "LC_MESSAGES": "fr_CA.UTF-8"}, "fr"),
        ({"LANG": "fr_FR.UTF-8", "LANGUAGE": "de:en"}, "en"),
        ({"LANGUAGE": "de:fr", "LANG": "C"}, "fr"),
        ({"LANG": "de_DE.UTF-8"}, "en"),
        ({}, "en"),
    ],
)
def test_commands_speak_the_locales_language(environ: dict[str, str], expected: str) -> None:
    assert environment_language(environ) == expected


def test_every_audit_action_and_column_has_its_label_in_both_catalogs() -> None:
    keys = [f"audit.action.{action.value}" for action in AuditAction]
    keys += [f"audit.column.{column}" for column in AUDIT_COLUMNS]
    for lang in LANGUAGES:
        present = catalog_keys(lang)
        assert [key for key in keys if key not in present] == [], lang
    assert translator("fr")("audit.action.token_revoked") == "Jeton d'API révoqué"
