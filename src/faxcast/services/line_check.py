"""« Tester cette ligne »: is the trunk there, and does it take the line's credentials?"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Final

from faxcast.domain.models import LineKind
from faxcast.domain.sip_line import SipLineSettings
from faxcast.errors import FaxcastError
from faxcast.i18n import Message, codes
from faxcast.lines.sip.session import address_of_record, credentials
from faxcast.services import accounts
from faxcast.services.context import Services
from faxcast.services.guard import require_admin
from faxcast.sip.register import AuthCheck, ProbeResult, probe
from faxcast.sip.transport import route_to
from faxcast.sip.ua import UserAgent

# Long enough for OPTIONS' retransmissions at 0.5, 1 and 2 s; short enough for a button.
CHECK_TIMEOUT_S: Final = 5.0


@dataclass(frozen=True)
class LineCheck:
    """What a line test found, and the plain answer for people (`message`)."""

    reachable: bool
    authentication: AuthCheck
    status: int | None
    round_trip_ms: float | None
    message: Message

    @property
    def ok(self) -> bool:
        """Whether the line can place calls as far as the proxy says."""
        refused = self.authentication is AuthCheck.REFUSED
        return self.reachable and not refused and (self.status or 200) < 300


async def check_line(
    svc: Services, account_id: int, line_id: int, *, timeout_s: float = CHECK_TIMEOUT_S
) -> LineCheck:
    """OPTIONS (or REGISTER, if the line registers) to the line's proxy, within `timeout_s`."""
    require_admin(svc, account_id)
    line = await asyncio.to_thread(accounts.get_line, svc, account_id, line_id)
    if line.kind is LineKind.SANDBOX or line.sip is None:
        return LineCheck(True, AuthCheck.NOT_ASKED, None, None, codes.LINE_CHECK_SANDBOX())
    sip = line.sip
    if sip.username and not sip.password.readable:
        # Nothing sent: the trunk would only refuse a guess.
        return LineCheck(False, AuthCheck.NOT_ASKED, None, None, codes.SIP_PASSWORD_UNREADABLE())
    try:
        found = await asyncio.wait_for(_probe(sip), timeout_s)
    except (TimeoutError, OSError, FaxcastError):  # no answer, no route, an unknown host
        found = ProbeResult(False, AuthCheck.NOT_ASKED, None, "no response", None)
    return _verdict(sip, found, timeout_s)


async def _probe(sip: SipLineSettings) -> ProbeResult:
    local, proxy = await route_to(sip.local_address, sip.proxy_host, sip.proxy_port)
    ua = await UserAgent.start(local)
    try:
        return await probe(
            ua,
            address_of_record(sip),
            proxy=proxy,
            credentials=credentials(sip),
            register=sip.register,
        )
    finally:
        await ua.close()


def _verdict(sip: SipLineSettings, found: ProbeResult, timeout_s: float) -> LineCheck:
    proxy = f"{sip.proxy_host}:{sip.proxy_port}"
    if not found.reachable:
        message = codes.LINE_CHECK_UNREACHABLE(proxy=proxy, seconds=round(timeout_s))
    elif found.auth is AuthCheck.REFUSED:
        message = codes.LINE_CHECK_AUTH_REFUSED(proxy=proxy, status=found.status or 0)
    elif found.status is not None and found.status >= 300:
        message = codes.LINE_CHECK_ERROR(
            proxy=proxy, status=found.status, phrase=found.phrase, ms=_ms(found)
        )
    elif found.auth is AuthCheck.ACCEPTED:
        message = codes.LINE_CHECK_AUTH_ACCEPTED(proxy=proxy, ms=_ms(found))
    else:
        message = codes.LINE_CHECK_REACHABLE(proxy=proxy, ms=_ms(found))
    return LineCheck(found.reachable, found.auth, found.status, found.round_trip_ms, message)


def _ms(found: ProbeResult) -> int:
    return round(found.round_trip_ms or 0)
