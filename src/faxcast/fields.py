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
    TIMEZONE = ("timezone", "timezone")
    LANGUAGE = ("language", "language")
    KIND = ("kind", "kind")
    COUNTRY = ("country", "country")
    IDENT = ("ident", "ident")
    HEADER = ("header", "header")
    CHANNEL_LIMIT = ("channelLimit", "channel_limit")
    MAX_CALLS = ("maxCalls", "max_calls")
    # A SIP line's settings: an object `sip` in the API, fields of the line's form on the web.
    SIP = ("sip", "kind")
    SIP_PROXY_HOST = ("sip.proxyHost", "proxy_host")
    SIP_PROXY_PORT = ("sip.proxyPort", "proxy_port")
    SIP_TRANSPORT = ("sip.transport", "transport")
    SIP_USERNAME = ("sip.username", "username")
    SIP_PASSWORD = ("sip.password", "password")
    SIP_REGISTER = ("sip.register", "register")
    SIP_REGISTER_INTERVAL = ("sip.registerIntervalS", "register_interval_s")
    SIP_FROM_NUMBER = ("sip.fromNumber", "from_number")
    SIP_DISPLAY_NAME = ("sip.displayName", "display_name")
    SIP_DIALLING = ("sip.dialling", "dialling")
    SIP_INTERNATIONAL_PREFIX = ("sip.internationalPrefix", "international_prefix")
    SIP_CODECS = ("sip.codecs", "codecs")
    SIP_T38 = ("sip.t38", "t38")
    SIP_T38_OFFER_AFTER = ("sip.t38OfferAfterS", "t38_offer_after_s")
    SIP_RING_TIMEOUT = ("sip.ringTimeoutS", "ring_timeout_s")
    SIP_LOCAL_ADDRESS = ("sip.localAddress", "local_address")
    SIP_RTP_PORT_MIN = ("sip.rtpPortMin", "rtp_port_min")
    SIP_RTP_PORT_MAX = ("sip.rtpPortMax", "rtp_port_max")
    # Listing campaigns.
    PAGE = ("page", None)
    # Users, sign-in and API tokens; the account an upload goes to.
    ACCOUNT = ("account", None)
    LOGIN = ("login", "login")
    PASSWORD = ("password", "password")
    NEW_PASSWORD = ("newPassword", "new_password")
    ROLE = ("role", "role")
    EXPIRES_AT = ("expiresAt", "expires_at")
    # Settings, named by their environment variable.
    DATABASE_URL = ("FAXCAST_DATABASE_URL", None)
    BLOB_STORE = ("FAXCAST_BLOB_STORE", None)
