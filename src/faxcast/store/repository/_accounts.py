"""Accounts and their fax lines."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Connection,
    Row,
    insert,
    select,
    update,
)

from faxcast.domain.codec import Codec
from faxcast.domain.dialling import Dialling
from faxcast.domain.models import (
    Account,
    Line,
    LineKind,
    LineSettings,
)
from faxcast.domain.quality import Quality
from faxcast.domain.sip_line import Password, SipLineSettings, SipTransport, T38Mode
from faxcast.errors import NotFoundError
from faxcast.i18n import codes
from faxcast.store.repository._ids import storable
from faxcast.store.sealing import Sealer, is_sealed, sealer_of
from faxcast.store.tables import (
    accounts,
    lines,
)


def insert_account(
    conn: Connection, *, name: str, timezone: str, language: str, now: datetime
) -> Account:
    """A new account."""
    new_id = conn.execute(
        insert(accounts).values(name=name, timezone=timezone, language=language, created_at=now)
    ).inserted_primary_key
    assert new_id is not None
    return get_account(conn, int(new_id[0]))


def get_account(conn: Connection, account_id: int) -> Account:
    """The account, or NotFoundError."""
    row = (
        conn.execute(select(accounts).where(accounts.c.id == account_id)).first()
        if storable(account_id)
        else None
    )
    if row is None:
        raise NotFoundError(codes.NO_ACCOUNT(account=account_id))
    return Account(row.id, row.name, row.timezone, row.created_at, row.language)


def list_accounts(conn: Connection) -> list[Account]:
    """Every account, oldest first."""
    rows = conn.execute(select(accounts).order_by(accounts.c.id))
    return [Account(r.id, r.name, r.timezone, r.created_at, r.language) for r in rows]


def update_account(
    conn: Connection, account: Account, *, name: str, timezone: str, language: str
) -> Account:
    """The account with a new name, time zone and language."""
    conn.execute(
        update(accounts)
        .where(accounts.c.id == account.id)
        .values(name=name, timezone=timezone, language=language)
    )
    return get_account(conn, account.id)


# ---------------------------------------------------------------------------- lines


def insert_line(conn: Connection, line: LineSettings, *, account_id: int, now: datetime) -> Line:
    """A new line of the account."""
    new_id = conn.execute(
        insert(lines).values(account_id=account_id, created_at=now, **_line_values(conn, line))
    ).inserted_primary_key
    assert new_id is not None
    return get_line(conn, account_id, int(new_id[0]))


def get_line(conn: Connection, account_id: int, line_id: int) -> Line:
    """The account's line, or NotFoundError (also for another account's line)."""
    row = (
        conn.execute(
            select(lines).where(lines.c.id == line_id, lines.c.account_id == account_id)
        ).first()
        if storable(account_id, line_id)
        else None
    )
    if row is None:
        raise NotFoundError(codes.NO_LINE(line=line_id, account=account_id))
    return line_of(conn, row)


def list_lines(conn: Connection, account_id: int) -> list[Line]:
    """The account's lines, oldest first."""
    rows = conn.execute(select(lines).where(lines.c.account_id == account_id).order_by(lines.c.id))
    return [line_of(conn, r) for r in rows]


def update_line(conn: Connection, line: Line, settings: LineSettings) -> Line:
    """The line with new settings."""
    conn.execute(update(lines).where(lines.c.id == line.id).values(**_line_values(conn, settings)))
    return get_line(conn, line.account_id, line.id)


def _line_values(conn: Connection, line: LineSettings) -> dict[str, Any]:
    sip = line.sip
    return {
        "name": line.name,
        "kind": line.kind.value,
        "country": line.country,
        "ident": line.ident,
        "header": line.header,
        "channel_limit": line.channel_limit,
        "quality": line.quality.value,
        "max_calls": line.max_calls,
        "sip": json.dumps(_sip_document(sip), sort_keys=True) if sip else None,
        "sip_password": _stored_password(conn, sip.password) if sip else None,
    }


def line_of(conn: Connection, row: Row[Any]) -> Line:
    """A line from its row; its password opened with the connection's sealer."""
    return Line(
        row.id,
        row.account_id,
        row.name,
        LineKind(row.kind),
        row.country,
        row.ident,
        row.header,
        row.channel_limit,
        row.created_at,
        (
            _sip_settings(row.sip, _password(conn, row.sip_password or ""))
            if row.sip is not None
            else None
        ),
        Quality(row.quality),
        row.max_calls,
    )


def seal_clear_passwords(conn: Connection) -> int:
    """Seal the passwords an older faxcast stored in clear; how many there were."""
    sealer = _sealer(conn)
    stored = conn.execute(
        select(lines.c.id, lines.c.sip_password).where(lines.c.sip_password != "")
    ).all()
    sealed = 0
    for line_id, clear in stored:
        if not is_sealed(clear):
            # Only if still the clear value: another process starting beside this one may
            # have sealed it first.
            conn.execute(
                update(lines)
                .where(lines.c.id == line_id, lines.c.sip_password == clear)
                .values(sip_password=sealer.seal(clear))
            )
            sealed += 1
    return sealed


def _stored_password(conn: Connection, password: Password) -> str:
    """The password as stored: sealed, or kept as it was when it cannot be opened."""
    if password.stored is not None:
        return password.stored
    clear = password.reveal()
    return _sealer(conn).seal(clear) if clear else ""


def _password(conn: Connection, stored: str) -> Password:
    """The stored password opened; one stored in clear (before sealing) read as it is."""
    if not is_sealed(stored):
        return Password(stored)
    sealer = sealer_of(conn)
    clear = sealer.open(stored) if sealer is not None else None
    return Password(clear) if clear is not None else Password.unreadable(stored)


def _sealer(conn: Connection) -> Sealer:
    sealer = sealer_of(conn)
    if sealer is None:
        raise RuntimeError("this connection carries no sealer: passwords cannot be stored")
    return sealer


def _sip_document(sip: SipLineSettings) -> dict[str, Any]:
    """The settings as the `sip` column's JSON, without the password (in its own column)."""
    return {
        "proxy_host": sip.proxy_host,
        "proxy_port": sip.proxy_port,
        "transport": sip.transport.value,
        "username": sip.username,
        "register": sip.register,
        "register_interval_s": sip.register_interval_s,
        "from_number": sip.from_number,
        "display_name": sip.display_name,
        "dialling": sip.dialling.value,
        "international_prefix": sip.international_prefix,
        "codecs": [codec.value for codec in sip.codecs],
        "t38": sip.t38.value,
        "t38_offer_after_s": sip.t38_offer_after_s,
        "ring_timeout_s": sip.ring_timeout_s,
        "local_address": sip.local_address,
        "rtp_port_min": sip.rtp_port_min,
        "rtp_port_max": sip.rtp_port_max,
    }


def _sip_settings(document: str, password: Password) -> SipLineSettings:
    """The settings from the `sip` column; one stored before a setting existed gets its default."""
    values: dict[str, Any] = json.loads(document)
    enums = {
        "transport": SipTransport,
        "dialling": Dialling,
        "t38": T38Mode,
    }
    for key, kind in enums.items():
        if key in values:
            values[key] = kind(values[key])
    if "codecs" in values:
        values["codecs"] = tuple(Codec(value) for value in values["codecs"])
    return SipLineSettings(**values, password=password)
