"""Whether this process can serve: the database answers and its schema is the one shipped."""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from faxcast.i18n import Message, codes
from faxcast.services.context import Services
from faxcast.store import revisions


def not_ready(svc: Services) -> Message | None:
    """Why the process cannot serve now (database unreachable, schema behind), or None."""
    try:
        current = revisions.current_revision(svc.engine)
    except SQLAlchemyError as error:
        # The error's kind only: its text may name hosts and users, and anyone may ask.
        cause = error.orig if isinstance(error, DBAPIError) else error
        return codes.NOT_READY_DATABASE(error=type(cause).__name__)
    head = revisions.head_revision()
    if current != head:
        return codes.NOT_READY_SCHEMA(current=current or "none", head=head)
    return None
