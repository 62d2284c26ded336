"""The `sip` line driver: places a line's fax calls through its SIP trunk.

Opening binds one user agent on the line's local address (and registers, if the line says
so, refreshing until closed). Each `send` INVITEs `sip:<dialled number>@proxy` with the line's
caller id and digest credentials, runs the fax on the answered call's media (T.38 when the
far end re-INVITEs, or when we offer it), hangs up after phase E and reports a CallResult.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
from dataclasses import replace
from datetime import datetime
from typing import Self

from faxcast.clock import Clock
from faxcast.domain.models import Line
from faxcast.domain.outcome import FailureClass
from faxcast.domain.sip_line import SipLineSettings, T38Mode
from faxcast.errors import ConfigError, ConflictError
from faxcast.i18n import codes
from faxcast.lines.base import CallResult, FaxJob, FaxLine, sent_document
from faxcast.lines.sip.media import Ending, FaxEnd, FaxMedia, MediaOutcome
from faxcast.lines.sip.session import (
    NOT_ACCEPTABLE,
    MediaSession,
    address_of_record,
    credentials,
    end_media_when_hung_up,
    media_outcome,
    offer_t38_after,
    port_range,
)
from faxcast.sip.dialog import Call
from faxcast.sip.errors import SipTransportError
from faxcast.sip.register import RegisterResult, Registration
from faxcast.sip.status import sip_failure
from faxcast.sip.transaction import Timers
from faxcast.sip.transport import Address, route_to
from faxcast.sip.ua import CallFailure, UserAgent
from faxcast.sip.uri import NameAddr, SipUri

log = logging.getLogger(__name__)

UNREGISTER_TIMEOUT_S = 5.0
HANGUP_TIMEOUT_S = 10.0


class _State(enum.Enum):
    NEW = "new"
    OPEN = "open"
    CLOSED = "closed"


class SipLine(FaxLine):
    """One `sip` line's driver: its user agent and registration, shared by its calls."""

    def __init__(self, line: Line, clock: Clock, *, timers: Timers | None = None) -> None:
        """`timers` are RFC 3261's by default; tests shrink them."""
        if line.sip is None:
            raise ValueError(f"line {line.id} has no SIP settings")
        self.line = line
        self.settings: SipLineSettings = line.sip
        self._clock = clock
        self._timers = timers
        self._state = _State.NEW
        self._ua: UserAgent | None = None
        self._proxy: Address | None = None  # the proxy's address, looked up at opening
        self._registration: Registration | None = None
        self._calls: set[asyncio.Task[CallResult]] = set()

    @property
    def ua(self) -> UserAgent:
        """The line's user agent (while open)."""
        if self._ua is None:
            raise ConflictError(codes.LINE_NOT_OPEN_YET())
        return self._ua

    @property
    def registration(self) -> RegisterResult | None:
        """The last REGISTER's outcome; None when the line does not register."""
        return self._registration.last if self._registration is not None else None

    async def __aenter__(self) -> Self:
        if self._state is not _State.NEW:
            raise ConflictError(codes.LINE_OPENED_BEFORE())
        sip = self.settings
        try:
            host, proxy = await route_to(sip.local_address, sip.proxy_host, sip.proxy_port)
        except (SipTransportError, OSError) as error:
            raise ConfigError(
                codes.SIP_PROXY_UNREACHABLE(host=sip.proxy_host, error=str(error))
            ) from error
        self._ua = await UserAgent.start(host, 0, timers=self._timers)
        self._proxy = proxy
        if sip.register and not sip.password.readable:
            # Calls will say so too, one result each; the other lines are not concerned.
            log.warning(
                "line %d does not register: %s", self.line.id, codes.SIP_PASSWORD_UNREADABLE()
            )
        elif sip.register:
            aor = address_of_record(sip)
            self._registration = Registration(
                self._ua,
                aor,
                registrar=proxy,
                credentials=credentials(self.settings),
                expires_s=sip.register_interval_s,
            )
            result = await self._registration.start()
            if not result.ok:
                # Calls may still go through (many trunks take them unregistered): said, not fatal.
                log.warning(
                    "line %d: REGISTER refused: %s %s", self.line.id, result.status, result.phrase
                )
        self._state = _State.OPEN
        return self

    async def aclose(self) -> None:
        """Unregister and close the user agent; calls still running are hung up first."""
        if self._state is _State.CLOSED:
            return
        self._state = _State.CLOSED
        for task in list(self._calls):
            task.cancel()
        await asyncio.gather(*self._calls, return_exceptions=True)
        if self._registration is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._registration.stop(), UNREGISTER_TIMEOUT_S)
        if self._ua is not None:
            await self._ua.close()

    async def send(self, job: FaxJob) -> CallResult:
        """Call `job.number` through the trunk and fax the document; only while open."""
        if self._state is _State.NEW:
            raise ConflictError(codes.LINE_NOT_OPEN_YET())
        if self._state is _State.CLOSED:
            raise ConflictError(codes.LINE_CLOSED())
        task = asyncio.ensure_future(self._send(job))
        self._calls.add(task)
        try:
            return await task
        finally:
            self._calls.discard(task)

    async def _send(self, job: FaxJob) -> CallResult:
        sip = self.settings
        started_at = self._clock.now()
        if sip.username and not sip.password.readable:
            # No call without the password: retried like a trunk refusing the credentials,
            # so calls resume once someone enters it again.
            reason = str(codes.SIP_PASSWORD_UNREADABLE())
            return CallResult(
                started_at, None, started_at, None, FailureClass.CONGESTION, reason, None
            )
        # The header line is drawn before dialling, never in the media's 20 ms ticks.
        async with sent_document(job, started_at) as document:
            return await self._dial(replace(job, document=document), started_at)

    async def _dial(self, job: FaxJob, started_at: datetime) -> CallResult:
        sip, ua = self.settings, self.ua
        end = FaxEnd(job.document, job.profile, job.identity, calling=True)
        media = FaxMedia(end, cap_s=job.cap_s)
        t38_allowed = sip.t38 is not T38Mode.OFF and job.t38_allowed
        session = MediaSession(
            media,
            host=ua.address[0],
            ports=port_range(sip),
            codecs=sip.codecs,
            t38_allowed=t38_allowed,
        )
        number = sip.dial(job.number, country=self.line.country)
        try:
            answered = await ua.call(
                SipUri(host=sip.proxy_host, user=number, port=sip.proxy_port),
                session.offer(),
                caller=self._caller(),
                proxy=self._proxy,
                credentials=credentials(self.settings),
                ring_timeout_s=float(sip.ring_timeout_s),
                on_offer=session.on_offer,
            )
        except BaseException:
            session.close()  # the user agent has CANCELled a ringing INVITE
            raise
        if isinstance(answered, CallFailure):
            session.close()
            return CallResult(
                started_at=started_at,
                answered_at=None,
                ended_at=self._clock.now(),
                sip_status=answered.status,
                failure=answered.failure.failure,
                reason=answered.failure.reason,
                fax=None,
            )
        offer_t38 = t38_allowed and sip.t38 is T38Mode.OFFER
        return await self._fax(answered, session, started_at, offer_t38=offer_t38)

    async def _fax(
        self, call: Call, session: MediaSession, started_at: datetime, *, offer_t38: bool
    ) -> CallResult:
        answered_at = self._clock.now()
        media = session.media
        call.on_answer = session.follow
        if not session.start(call.remote_sdp, session.local_sdp or call.local_sdp):
            await _hang_up(call, "no G.711 stream in the answer")
            session.close()
            refused = sip_failure(NOT_ACCEPTABLE)
            return CallResult(
                started_at=started_at,
                answered_at=answered_at,
                ended_at=self._clock.now(),
                sip_status=NOT_ACCEPTABLE,
                failure=refused.failure,
                reason=f"the answer has none of the G.711 codecs offered: {refused.reason}",
                fax=None,
            )
        watchers = [asyncio.ensure_future(end_media_when_hung_up(call, media))]
        if offer_t38:
            after_s = float(self.settings.t38_offer_after_s)
            watchers.append(asyncio.ensure_future(offer_t38_after(session, call, after_s)))
        try:
            outcome = await media_outcome(media, watchers)
        finally:
            # Also when cancelled (a campaign stop): BYE, so nothing stays up at the far end.
            await asyncio.shield(_hang_up(call, "fax over"))
        ended = call.ended.reason if call.ended is not None else "-"
        log.info(
            "line %d: call %s: media ended by %s after %.1f s (%s), call ended: %s",
            self.line.id,
            call.call_id,
            outcome.ending.value,
            outcome.line_s,
            "T.38" if outcome.t38 else "G.711",
            ended,
        )
        return _result(outcome, started_at, answered_at, self._clock.now(), call)

    def _caller(self) -> NameAddr:
        sip = self.settings
        user = sip.from_number or sip.username or "faxcast"
        return NameAddr(SipUri(host=sip.proxy_host, user=user), sip.display_name or None)


async def _hang_up(call: Call, reason: str) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(call.hangup(reason), HANGUP_TIMEOUT_S)


def _result(
    outcome: MediaOutcome,
    started_at: datetime,
    answered_at: datetime,
    ended_at: datetime,
    call: Call,
) -> CallResult:
    fax = outcome.fax
    assert fax is not None  # the media started before anything could end it
    reason, failure = fax.reason, fax.failure
    if failure is not None and _never_heard(outcome):
        # Not a dropped fax: nothing ever answered in fax (DESIGN's "no fax", silence), as
        # T.30's T0 would have said had the call lasted that long.
        failure = FailureClass.NO_FAX
        reason = f"the far end answered but sent no media at all ({fax.reason})"
    if outcome.ending is Ending.WATCHDOG:
        reason = f"the watchdog ended the call after {outcome.line_s:.0f} s on the line"
    elif not fax.success and outcome.ending is Ending.FAR_END_HUNG_UP and call.ended is not None:
        reason = f"{reason}; the far end hung up ({call.ended.reason})"
    return CallResult(
        started_at=started_at,
        answered_at=answered_at,
        ended_at=ended_at,
        sip_status=200,
        failure=failure,
        reason=reason,
        fax=fax,
    )


def _never_heard(outcome: MediaOutcome) -> bool:
    stats = outcome.stats
    rtp = stats.rtp.packets if stats.rtp is not None else 0
    udptl = stats.udptl.packets if stats.udptl is not None else 0
    return rtp + udptl == 0
