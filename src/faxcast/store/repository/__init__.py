"""Reads and writes of faxcast's records, every one scoped by account (DESIGN.md).

Functions take an open connection so a use case composes them in one transaction; rows are
turned into the frozen read models of the domain here and nowhere else.
"""

from faxcast.store.repository._accounts import (
    get_account,
    get_line,
    insert_account,
    insert_line,
    line_of,
    list_accounts,
    list_lines,
    seal_clear_passwords,
    update_line,
)
from faxcast.store.repository._campaigns import (
    campaign_of,
    campaign_recipients,
    campaign_tiff,
    delete_campaign,
    get_attempt,
    get_campaign,
    insert_campaign,
    list_campaigns,
    reference_exists,
    save_campaign,
)
from faxcast.store.repository._documents import (
    get_document,
    insert_document,
    insert_rendition,
    list_documents,
    rendition_id,
    rendition_pages,
)

__all__ = [
    "campaign_of",
    "campaign_recipients",
    "campaign_tiff",
    "delete_campaign",
    "get_account",
    "get_attempt",
    "get_campaign",
    "get_document",
    "get_line",
    "insert_account",
    "insert_campaign",
    "insert_document",
    "insert_line",
    "insert_rendition",
    "line_of",
    "list_accounts",
    "list_campaigns",
    "list_documents",
    "list_lines",
    "reference_exists",
    "rendition_id",
    "rendition_pages",
    "save_campaign",
    "seal_clear_passwords",
    "update_line",
]
