"""The inputs faxcast checks, and the one table of how the API and the web form name each.

Services and the domain say which input is at fault with a `Field`; the API reports
`field.api` (the provider's camelCase, or a setting's environment variable) and the web form
shows the error beside `field.form` (None: at the top of the form).
"""

from __future__ import annotations

import enum


class Field(enum.Enum):
    """An input at fault: its name in the API and its field on the web form."""

    api: str
    form: str | None

    def __init__(self, api: str, form: str | None) -> None:
        self.api = api
        self.form = form

    # A new campaign. A PDF comes as an uploaded document's id (API) or with the form itself;
    # numbers come typed in, as an uploaded .txt document's id (API) or as a file (web, CLI).
    NAME = ("name", "name")
    DOCUMENT_ID = ("documentId", "pdf")
    DOCUMENT_FILE = ("file", "pdf")
    QUALITY = ("faxQuality", "quality")
    SEND_TYPE = ("sendType", "send_type")
    SEND_AT = ("sendDate", "send_at")
    RECIPIENTS_LIST = ("recipientsList", "recipients_list")
    RECIPIENTS_DOCUMENT = ("recipientsDocId", "recipients_file")
    RECIPIENTS_FILE = ("file", "recipients_file")
    # Accounts and their lines.
    TIMEZONE = ("timezone", None)
    KIND = ("kind", None)
    COUNTRY = ("country", None)
    IDENT = ("ident", None)
    HEADER = ("header", None)
    CHANNEL_LIMIT = ("channelLimit", None)
    # Listing campaigns.
    PAGE = ("page", None)
    # Settings, named by their environment variable.
    DATABASE_URL = ("FAXCAST_DATABASE_URL", None)
    BLOB_STORE = ("FAXCAST_BLOB_STORE", None)
