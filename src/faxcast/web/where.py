"""The account and line a page is about: its paths, breadcrumbs and dates in the account's zone."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from fastapi import Request

from faxcast.domain.models import Account, Line
from faxcast.services import accounts
from faxcast.services.context import Services
from faxcast.web import i18n

ACCOUNT_PATH: Final = "/accounts/{account}"
LINE_PATH: Final = ACCOUNT_PATH + "/lines/{line}"
CAMPAIGNS_PATH: Final = LINE_PATH + "/fax/campaigns"
CAMPAIGN_PATH: Final = CAMPAIGNS_PATH + "/{campaign}"


@dataclass(frozen=True)
class Where:
    """The account and line a page is about (scoped: another account's line is not found)."""

    account: Account
    line: Line

    def crumbs(self, request: Request, lang: str, *last: tuple[str, str]) -> list[tuple[str, str]]:
        """Telephony, account, line, then `last`, as (label, href); the last is the current page."""
        ids = {"account": str(self.account.id), "line": str(self.line.id)}
        return [
            *account_crumbs(request, lang, self.account),
            (self.line.name, str(request.app.url_path_for("web-line", **ids))),
            *last,
        ]


def account_crumbs(request: Request, lang: str, account: Account) -> list[tuple[str, str]]:
    """Telephony, then the account (the guide's group) as a link to its page."""
    t = i18n.translator(lang)
    return [
        (t("home.title"), str(request.app.url_path_for("web-home"))),
        (
            t("home.account", name=account.name),
            str(request.app.url_path_for("web-account", account=str(account.id))),
        ),
    ]


def where_of(svc: Services, account: int, line: int) -> Where:
    """The account's line, or NotFoundError."""
    return Where(accounts.get_account(svc, account), accounts.get_line(svc, account, line))


def dt(where: Where, lang: str) -> Callable[[Any], str]:
    """Shows a moment in the account's time zone and the page's language."""
    return lambda moment: i18n.format_datetime(moment, where.account.timezone, lang)
