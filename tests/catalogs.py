"""The shipped gettext catalogs as Babel reads them, for tests that check what they hold."""

from __future__ import annotations

import io

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

from faxcast.i18n import catalog_text


def read_catalog(lang: str) -> Catalog:
    """The catalog of `lang` (en or fr)."""
    return read_po(io.StringIO(catalog_text(lang)))


def catalog_keys(lang: str) -> set[str]:
    """Every message id of the catalog: declared codes and the web pages' keys."""
    return {
        message.id if isinstance(message.id, str) else message.id[0]
        for message in read_catalog(lang)
        if message.id
    }
