"""A SIP line's settings are declared once, in the domain: the API, the store and the web form
take every one of them (and the API shows all but the password)."""

from __future__ import annotations

import dataclasses
import json

from faxcast.api import schemas
from faxcast.domain.sip_line import Password, SipLineSettings
from faxcast.store.repository import _accounts
from faxcast.web.line_form import LineForm
from faxcast.web.routes.lines import FIELDS

SETTINGS = {f.name for f in dataclasses.fields(SipLineSettings)}


def _python_names(model: type[schemas.Schema]) -> set[str]:
    # The register flag is `registers` in Python (pydantic's models have a `register`).
    return {"register" if name == "registers" else name for name in model.model_fields}


def test_the_api_takes_every_setting_and_shows_all_but_the_password() -> None:
    assert _python_names(schemas.SipSettingsInput) == SETTINGS
    assert _python_names(schemas.SipSettings) == SETTINGS - {"password"} | {"password_set"}


def test_the_store_keeps_every_setting_but_the_password_in_its_document() -> None:
    document = _accounts._sip_document(SipLineSettings("h.test", password=Password("x")))

    assert set(document) == SETTINGS - {"password"}
    assert _accounts._sip_settings(json.dumps(document), Password("x")) == SipLineSettings(
        "h.test", password=Password("x")
    )


def test_the_web_form_has_a_field_for_every_setting() -> None:
    form_fields = {f.name for f in dataclasses.fields(LineForm)}

    assert form_fields >= SETTINGS
    assert set(FIELDS) == form_fields | {"form"}
