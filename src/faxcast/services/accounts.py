"""Accounts and their fax lines."""

from __future__ import annotations

from dataclasses import replace
from typing import Final

import phonenumbers

from faxcast.domain.access import AuditAction, Role
from faxcast.domain.locale import language_error, timezone_error
from faxcast.domain.models import Account, Line, LineKind, LineSettings
from faxcast.domain.sip_line import check_sip_line
from faxcast.domain.station import MAX_HEADER_LEN, StationIdentity, drawable
from faxcast.errors import InputError, raise_all
from faxcast.fields import Field
from faxcast.i18n import codes
from faxcast.services import audit
from faxcast.services.context import Services
from faxcast.services.guard import require_admin, require_member
from faxcast.store import repository

_NAME_MAX = 100
_CHANNELS_MAX = 256
# The provider's line settings allow 1 to 9 tries per number (its faxMaxCall).
MAX_CALLS: Final = 9


def create_account(
    svc: Services, *, name: str, timezone: str | None = None, language: str | None = None
) -> Account:
    """A new account with one sandbox line, so a new user can send a campaign at once."""
    zone = timezone or svc.settings.default_timezone
    lang = language or svc.settings.default_language
    errors = [
        e for e in (_name_error(name), timezone_error(zone), language_error(lang)) if e is not None
    ]
    if errors:
        raise_all(errors)
    with svc.transaction() as conn:
        now = svc.clock.now()
        account = repository.insert_account(
            conn, name=name.strip(), timezone=zone, language=lang, now=now
        )
        # The account's name heads its pages (if the header line can show it); the sandbox
        # line has no number to send as its ident.
        header = name.strip()[:MAX_HEADER_LEN]
        repository.insert_line(
            conn,
            LineSettings(
                name="Sandbox",
                kind=LineKind.SANDBOX,
                country=svc.settings.default_country,
                ident="",
                header=header if drawable(header) else "",
                channel_limit=svc.settings.channel_limit,
            ),
            account_id=account.id,
            now=now,
        )
        caller = svc.caller
        if caller.user_id is not None:
            repository.put_member(
                conn, account_id=account.id, user_id=caller.user_id, role=Role.ADMIN, now=now
            )
        audit.record(conn, svc, account.id, AuditAction.ACCOUNT_CREATED, account.name)
    return account


def list_accounts(svc: Services) -> list[Account]:
    """The caller's accounts (the operator's: every one)."""
    with svc.transaction() as conn:
        return [a for a in repository.list_accounts(conn) if svc.caller.may_see(a.id)]


def get_account(svc: Services, account_id: int) -> Account:
    """One account, or NotFoundError."""
    require_member(svc, account_id)
    with svc.transaction() as conn:
        return repository.get_account(conn, account_id)


def update_account(
    svc: Services, account_id: int, *, name: str, timezone: str, language: str
) -> Account:
    """Change the account's name, time zone and language (admins only)."""
    require_admin(svc, account_id)
    errors = [
        e
        for e in (_name_error(name), timezone_error(timezone), language_error(language))
        if e is not None
    ]
    if errors:
        raise_all(errors)
    with svc.transaction() as conn:
        account = repository.update_account(
            conn,
            repository.get_account(conn, account_id),
            name=name.strip(),
            timezone=timezone,
            language=language,
        )
        audit.record(conn, svc, account_id, AuditAction.ACCOUNT_CHANGED, account.name)
        return account


def create_line(svc: Services, account_id: int, settings: LineSettings) -> Line:
    """A new line in the account, after checking its settings."""
    require_admin(svc, account_id)
    checked = check_line_settings(settings)
    with svc.transaction() as conn:
        repository.get_account(conn, account_id)
        line = repository.insert_line(conn, checked, account_id=account_id, now=svc.clock.now())
        audit.record(conn, svc, account_id, AuditAction.LINE_CREATED, line.name)
        return line


def list_lines(svc: Services, account_id: int) -> list[Line]:
    """The account's lines."""
    require_member(svc, account_id)
    with svc.transaction() as conn:
        repository.get_account(conn, account_id)
        return repository.list_lines(conn, account_id)


def get_line(svc: Services, account_id: int, line_id: int) -> Line:
    """One line of the account, or NotFoundError."""
    require_member(svc, account_id)
    with svc.transaction() as conn:
        return repository.get_line(conn, account_id, line_id)


def update_line(svc: Services, account_id: int, line_id: int, settings: LineSettings) -> Line:
    """Change a line's settings (its kind stays what it is); a SIP password left empty keeps
    the one stored, unless the user name is emptied too (no password without a user)."""
    require_admin(svc, account_id)
    with svc.transaction() as conn:
        line = repository.get_line(conn, account_id, line_id)
        if settings.kind is not line.kind:
            raise InputError(codes.KIND_FIXED(), field=Field.KIND)
        checked = check_line_settings(with_password_kept(line, settings))
        audit.record(conn, svc, account_id, AuditAction.LINE_CHANGED, checked.name)
        return repository.update_line(conn, line, checked)


def with_password_kept(line: Line, settings: LineSettings) -> LineSettings:
    """New settings for `line` with its stored SIP password in place of an empty one, unless
    the user name is empty too (no password without a user)."""
    sip = settings.sip
    if sip is None or line.sip is None or sip.password or not sip.username.strip():
        return settings
    return replace(settings, sip=replace(sip, password=line.sip.password))


def check_line_settings(settings: LineSettings) -> LineSettings:
    """The settings with blanks trimmed, or MultipleInputError naming every bad field."""
    errors: list[InputError] = []
    name_error = _name_error(settings.name)
    if name_error:
        errors.append(name_error)
    country = settings.country.strip().upper()
    if country not in phonenumbers.SUPPORTED_REGIONS:
        errors.append(
            InputError(codes.UNKNOWN_COUNTRY(country=settings.country), field=Field.COUNTRY)
        )
    try:
        StationIdentity(settings.ident.strip(), settings.header.strip())
    except InputError as error:
        errors.append(error)
    if not 1 <= settings.channel_limit <= _CHANNELS_MAX:
        errors.append(
            InputError(codes.CHANNEL_LIMIT_RANGE(max=_CHANNELS_MAX), field=Field.CHANNEL_LIMIT)
        )
    if settings.max_calls is not None and not 1 <= settings.max_calls <= MAX_CALLS:
        errors.append(InputError(codes.MAX_CALLS_RANGE(max=MAX_CALLS), field=Field.MAX_CALLS))
    sip = settings.sip
    if settings.kind is LineKind.SIP and sip is None:
        errors.append(InputError(codes.SIP_SETTINGS_MISSING(), field=Field.SIP))
    elif settings.kind is not LineKind.SIP and sip is not None:
        errors.append(InputError(codes.SIP_SETTINGS_NOT_SIP(), field=Field.SIP))
    elif sip is not None:
        # The port range is judged against a sound channel limit only (that one is named apart).
        channels = settings.channel_limit if 1 <= settings.channel_limit <= _CHANNELS_MAX else 1
        sip, sip_errors = check_sip_line(sip, channel_limit=channels)
        errors += sip_errors
    if errors:
        raise_all(errors)
    return LineSettings(
        name=settings.name.strip(),
        kind=settings.kind,
        country=country,
        ident=settings.ident.strip(),
        header=settings.header.strip(),
        channel_limit=settings.channel_limit,
        sip=sip,
        quality=settings.quality,
        max_calls=settings.max_calls,
    )


def _name_error(name: str) -> InputError | None:
    if not 1 <= len(name.strip()) <= _NAME_MAX:
        return InputError(codes.NAME_LENGTH(max=_NAME_MAX), field=Field.NAME)
    return None
