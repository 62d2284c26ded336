"""The database schema (SQLAlchemy Core); Alembic migrations are checked against it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, whatever the database keeps."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.utcoffset() is None:
            raise ValueError("naive datetimes are not stored: pass an aware UTC datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


TRIGGERS_ON = "faxcast_triggers_on"
"""In a foreign key's info: the database whose migrations made it triggers instead of a key."""

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# The tables whose ids users see (in URLs, scripts, bookmarks) are `sqlite_autoincrement`: SQLite
# would otherwise give a deleted newest row's id to the next one, and a script acting on that id
# would act on another object. PostgreSQL's sequences never hand a number out twice.
accounts = Table(
    "accounts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(100), nullable=False),
    Column("timezone", String(64), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    # The language of what the account's faxes say (their header line): "en" or "fr".
    Column("language", String(8), nullable=False, server_default="fr"),
    sqlite_autoincrement=True,
)

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True),
    # Kept case-folded: "Alice" and "alice" are one user.
    Column("login", String(100), nullable=False, unique=True),
    # An argon2 hash; null until the user chooses a password through a set-up link.
    Column("password_hash", Text, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    sqlite_autoincrement=True,
)

memberships = Table(
    "memberships",
    metadata,
    Column("account_id", ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("role", String(16), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Index(None, "user_id"),
)

# Secrets handed out (set-up links, session cookies, API tokens) are kept as their SHA-256 only:
# they are long random strings, so a fast hash is enough and a stolen table opens nothing.
setup_links = Table(
    "setup_links",
    metadata,
    Column("token_sha256", String(64), primary_key=True),
    # Null: the link makes the first admin, who also chooses a login.
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
)

web_sessions = Table(
    "web_sessions",
    metadata,
    Column("token_sha256", String(64), primary_key=True),
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("seen_at", UtcDateTime, nullable=False),
    Index(None, "user_id"),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(100), nullable=False),
    Column("token_sha256", String(64), nullable=False, unique=True),
    Column("hint", String(16), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("last_used_at", UtcDateTime, nullable=True),
    Column("expires_at", UtcDateTime, nullable=True),
    Index(None, "user_id"),
    sqlite_autoincrement=True,
)

# One row per refused sign-in, kept for the throttling window only.
sign_in_failures = Table(
    "sign_in_failures",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("login", String(100), nullable=False),
    Column("address", String(64), nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Index(None, "login", "at"),
    Index(None, "address", "at"),
)

audit_events = Table(
    "audit_events",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("account_id", ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    Column("at", UtcDateTime, nullable=False),
    # The login as it was: the event outlives the user.
    Column("actor", String(100), nullable=False),
    Column("action", String(32), nullable=False),
    Column("subject", String(200), nullable=False),
    Column("address", String(64), nullable=False),
    Index(None, "account_id", "id"),
    sqlite_autoincrement=True,
)

lines = Table(
    "lines",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("account_id", ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(100), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("country", String(2), nullable=False),
    Column("ident", String(20), nullable=False),
    Column("header", String(50), nullable=False),
    Column("channel_limit", Integer, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    # A sip line's settings as one JSON text (null for a sandbox line), its password apart.
    Column("sip", Text, nullable=True),
    Column("sip_password", Text, nullable=True),
    # A new campaign's quality unless it says one; calls per recipient at most (null: policy's).
    Column("quality", String(16), nullable=False, server_default="normal"),
    Column("max_calls", Integer, nullable=True),
    Index(None, "account_id"),
    sqlite_autoincrement=True,
)

blobs = Table(
    "blobs",
    metadata,
    Column("sha256", String(64), primary_key=True),
    Column("size", Integer, nullable=False),
    # Filled only by the database blob store (scale-out); the file store keeps it on disk.
    Column("data", LargeBinary, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
)

documents = Table(
    "documents",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("account_id", ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(255), nullable=False),
    Column("media_type", String(64), nullable=False),
    Column("size", Integer, nullable=False),
    Column("sha256", ForeignKey("blobs.sha256"), nullable=False),
    Column("pages", Integer, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Index(None, "account_id"),
    sqlite_autoincrement=True,
)

renditions = Table(
    "renditions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("pdf_sha256", ForeignKey("blobs.sha256"), nullable=False),
    Column("resolution", String(16), nullable=False),
    Column("tiff_sha256", ForeignKey("blobs.sha256"), nullable=False),
    Column("pages", Integer, nullable=False),
    # Each page's bits on the line (documents.line_bits), a JSON list: they size the watchdog
    # of a call. Renditions stored before revision 0013 get theirs when faxcast next starts.
    Column("page_bits", Text, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    UniqueConstraint("pdf_sha256", "resolution"),
)

campaigns = Table(
    "campaigns",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("account_id", ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    Column("line_id", ForeignKey("lines.id", ondelete="CASCADE"), nullable=False),
    Column("reference", String(16), nullable=False, unique=True),
    Column("name", String(100), nullable=False),
    Column("document_id", ForeignKey("documents.id", ondelete="SET NULL"), nullable=True),
    Column("rendition_id", ForeignKey("renditions.id"), nullable=False),
    Column("quality", String(8), nullable=False),
    Column("send_type", String(16), nullable=False),
    Column("send_at", UtcDateTime, nullable=True),
    Column("state", String(16), nullable=False),
    Column("outcome", String(8), nullable=False),
    Column("count_total", Integer, nullable=False),
    Column("count_delivered", Integer, nullable=False),
    Column("count_failed", Integer, nullable=False),
    Column("error", Text, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("started_at", UtcDateTime, nullable=True),
    Column("finished_at", UtcDateTime, nullable=True),
    Index(None, "account_id", "line_id"),
    Index(None, "state", "send_at"),
    sqlite_autoincrement=True,
)

recipients = Table(
    "recipients",
    metadata,
    Column("id", Integer, primary_key=True),
    # On PostgreSQL this key is statement triggers (migration 0010): a key's check runs once per
    # new row, a third of storing a large list there.
    Column(
        "campaign_id",
        ForeignKey("campaigns.id", ondelete="CASCADE", info={TRIGGERS_ON: "postgresql"}),
        nullable=False,
    ),
    # The campaign's line, copied for the claims' counts. No foreign key: the campaign's implies
    # it (a line's deletion reaches its recipients through its campaigns), and a second check per
    # row cost a third of storing a large list on PostgreSQL.
    Column("line_id", Integer, nullable=False),
    Column("position", Integer, nullable=False),
    Column("number", String(24), nullable=False),
    # The entry as the user typed it, when it differs from `number` (shown beside it).
    Column("typed", Text, nullable=True),
    Column("state", String(16), nullable=False),
    Column("due_at", UtcDateTime, nullable=True),
    Column("calls", Integer, nullable=False, server_default="0"),
    Column("dials", Integer, nullable=False, server_default="0"),
    Column("tries", Integer, nullable=False, server_default="0"),
    Column("no_fax", Integer, nullable=False, server_default="0"),
    Column("pages_confirmed", Integer, nullable=False, server_default="0"),
    Column("first_dial_at", UtcDateTime, nullable=True),
    # How long its retries waited, due, before they were called: the kill time skips it.
    Column("waited_s", Float, nullable=False, server_default="0"),
    Column("reason", Text, nullable=True),
    Column("worker_id", String(36), nullable=True),
    Column("claimed_at", UtcDateTime, nullable=True),
    Column("lease_expires_at", UtcDateTime, nullable=True),
    # A recovered call whose holder may still be calling keeps its channel and number till then.
    Column("held_until", UtcDateTime, nullable=True),
    Column("settled_at", UtcDateTime, nullable=True),
    UniqueConstraint("campaign_id", "number"),
    # The claim reads: never called (no due time) in list order, and retries by due time.
    Index(None, "campaign_id", "state", "due_at", "id"),
    # The indexes below only the few rows in a call or held need: partial, so that storing a
    # new list (every row pending, never held) writes no entry in them.
    # The leases recovery looks at, and the workers holding calls.
    Index(
        None,
        "lease_expires_at",
        sqlite_where=text("state = 'in_call'"),
        postgresql_where=text("state = 'in_call'"),
    ),
    # A line's calls in progress, counted at every claim.
    Index(
        None,
        "line_id",
        sqlite_where=text("state = 'in_call'"),
        postgresql_where=text("state = 'in_call'"),
    ),
    # The holds in force, a short range at the end: a line's, counted at every claim, and the
    # numbers every claim skips.
    Index(
        None,
        "held_until",
        "line_id",
        sqlite_where=text("held_until IS NOT NULL"),
        postgresql_where=text("held_until IS NOT NULL"),
    ),
    Index(None, "campaign_id", "position", unique=True),  # the details, a page at a time
    # One call at a time to the same number across the whole system, whatever the Python does.
    Index(
        "uq_recipients_number_in_call",
        "number",
        unique=True,
        sqlite_where=text("state = 'in_call'"),
        postgresql_where=text("state = 'in_call'"),
    ),
)

attempts = Table(
    "attempts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("recipient_id", ForeignKey("recipients.id", ondelete="CASCADE"), nullable=False),
    Column("campaign_id", ForeignKey("campaigns.id", ondelete="CASCADE"), nullable=False),
    Column("number", String(24), nullable=False),
    Column("started_at", UtcDateTime, nullable=False),
    Column("answered_at", UtcDateTime, nullable=True),
    Column("ended_at", UtcDateTime, nullable=False),
    # Seconds the call held the line; the sandbox runs faster than the wall clock.
    Column("line_s", Float, nullable=True),
    Column("delivered", Boolean, nullable=False),
    Column("failure", String(16), nullable=True),
    Column("reason", Text, nullable=False),
    Column("sip_status", Integer, nullable=True),
    Column("t30_code", Integer, nullable=True),
    Column("t30_text", String(128), nullable=True),
    Column("pages_confirmed", Integer, nullable=False),
    Column("pages_total", Integer, nullable=False),
    Column("bit_rate", Integer, nullable=True),
    Column("ecm", Boolean, nullable=True),
    Column("resolution", String(16), nullable=True),
    Column("t38", Boolean, nullable=True),
    Column("remote_ident", String(20), nullable=True),
    Column("received_sha256", ForeignKey("blobs.sha256"), nullable=True),
    # The claim the call was placed under (none before revision 0006): one attempt per call,
    # so a result written again after a commit that reported an error is not written twice.
    Column("claimed_at", UtcDateTime, nullable=True),
    # Also the recipients' attempts, read along its first column.
    Index(None, "recipient_id", "claimed_at", unique=True),
    Index(None, "campaign_id"),
    sqlite_autoincrement=True,
)

workers = Table(
    "workers",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("hostname", String(255), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("started_at", UtcDateTime, nullable=False),
    Column("heartbeat_at", UtcDateTime, nullable=False),
)
