"""What the campaign commands share: settings, services and which account they act for."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import click

from faxcast.errors import InputError
from faxcast.i18n import codes

if TYPE_CHECKING:
    from faxcast.domain.models import Account
    from faxcast.services.context import Services


@dataclass
class CliState:
    """Set by the root command; services are opened on first use."""

    debug: bool
    account_id: int | None
    _services: Services | None = None

    @property
    def services(self) -> Services:
        """The services on the configured database, migrated to the newest schema."""
        # Imported here: `faxcast --help` and the fax commands need no database.
        from faxcast.bootstrap import build_services
        from faxcast.config import Settings

        if self._services is None:
            self._services = build_services(Settings())
        return self._services

    def account(self) -> Account:
        """--account, else the only account, else a new 'default' one (zero configuration)."""
        from faxcast.services import accounts

        svc = self.services
        if self.account_id is not None:
            return accounts.get_account(svc, self.account_id)
        existing = accounts.list_accounts(svc)
        if len(existing) == 1:
            return existing[0]
        if not existing:
            return accounts.create_account(svc, name="default")
        ids = ", ".join(str(a.id) for a in existing)
        raise InputError(codes.SEVERAL_ACCOUNTS(ids=ids))


pass_state = click.make_pass_decorator(CliState)


def parse_when(text: str, timezone: str) -> datetime:
    """An ISO date and time; without an offset it is in the account's time zone."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as error:
        raise InputError(codes.NOT_A_DATE(text=text)) from error
    return moment if moment.tzinfo else moment.replace(tzinfo=ZoneInfo(timezone))
