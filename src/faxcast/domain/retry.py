"""When to call a recipient again, and how: DESIGN.md's delivery and retry policy."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from faxcast.domain.outcome import FailureClass
from faxcast.domain.quality import FaxProfile, Modem, Quality

_MODEMS_FASTEST_FIRST: Final = tuple(Modem)
# The rate each modem may fall back to on a poor line (T.30 steps down after failed training).
_SLOWEST_BPS: Final = {Modem.V17: 7200, Modem.V29: 7200, Modem.V27TER: 2400}
CALL_OVERHEAD_S: Final = 60.0
"""T.30 around the pages: answer tones, capabilities, training down to the slowest rate (about
4.5 s a failed step), disconnection, and a repeated command or two."""
PAGE_OVERHEAD_S: Final = 15.0
"""T.30 after each page and each ECM block of one: post-page command and answer, a retrain."""
LINE_MARGIN: Final = 1.25
"""Image data costs more than its coded bits: HDLC framing and zero-bit stuffing of ECM frames,
fill bits; and a frame or two sent again."""


def slowest_bps(profile: FaxProfile) -> int:
    """The lowest rate a call with `profile` may send its pages at."""
    return min(_SLOWEST_BPS[modem] for modem in profile.modems)


def line_s(page_bits: Sequence[int], bps: int) -> float:
    """The longest a call takes at `bps` for pages of `page_bits` (documents.line_bits)."""
    return CALL_OVERHEAD_S + sum(PAGE_OVERHEAD_S + LINE_MARGIN * bits / bps for bits in page_bits)


def call_cap_s(page_bits: Sequence[int], profile: FaxProfile) -> float:
    """DESIGN.md's watchdog: the pages' line time at the slowest rate `profile` may fall to."""
    return line_s(page_bits, slowest_bps(profile))


@dataclass(frozen=True)
class StepDown:
    """How a call is made easier after transfer failures; `t38_allowed` is for the line driver."""

    max_modem: Modem
    ecm_toggled: bool
    t38_allowed: bool

    @classmethod
    def after(cls, transfer_failures: int) -> StepDown:
        """The step-down for the next call: V.29 9600, then ECM toggled, then T.38 off."""
        return cls(
            max_modem=Modem.V17 if transfer_failures < 1 else Modem.V29,
            ecm_toggled=transfer_failures >= 2,
            t38_allowed=transfer_failures < 3,
        )


NO_STEP_DOWN: Final = StepDown.after(0)


def degraded_profile(profile: FaxProfile, step: StepDown) -> FaxProfile:
    """`profile` with modems no faster than `step.max_modem` and ECM toggled when it says so."""
    floor = _MODEMS_FASTEST_FIRST.index(step.max_modem)
    modems = tuple(m for m in profile.modems if _MODEMS_FASTEST_FIRST.index(m) >= floor)
    # A profile with nothing slow enough keeps its slowest modem rather than none.
    return dataclasses.replace(
        profile,
        modems=modems or profile.modems[-1:],
        ecm=profile.ecm != step.ecm_toggled,
    )


@dataclass(frozen=True)
class RecipientHistory:
    """A recipient's failed calls so far, the one just ended included.

    `waited_s` is how long its retries waited, due, before they were called: the kill time
    does not count it.
    """

    dials: int = 0
    tries: int = 0
    no_fax: int = 0
    first_dial_at: datetime | None = None
    pages_confirmed: int = 0
    waited_s: float = 0.0

    def after(
        self,
        failure: FailureClass,
        *,
        dialed_at: datetime,
        due_at: datetime | None = None,
        pages_confirmed: int = 0,
    ) -> RecipientHistory:
        """This history plus one failed call dialed at `dialed_at`, due at `due_at` if a retry."""
        # What each class counts as (DESIGN.md table); congestion is not the recipient's fault.
        waited = dialed_at - due_at if due_at is not None else timedelta(0)
        return RecipientHistory(
            dials=self.dials + int(failure in (FailureClass.BUSY, FailureClass.NO_ANSWER)),
            tries=self.tries + int(failure is FailureClass.TRANSFER_FAILED),
            no_fax=self.no_fax + int(failure is FailureClass.NO_FAX),
            first_dial_at=self.first_dial_at or dialed_at,
            pages_confirmed=self.pages_confirmed + pages_confirmed,
            waited_s=self.waited_s + max(0.0, waited.total_seconds()),
        )


@dataclass(frozen=True)
class Retry:
    """Call again at `at`, stepped down, starting from 0-based page `resume_page`."""

    at: datetime
    step_down: StepDown
    resume_page: int


@dataclass(frozen=True)
class GiveUp:
    """The recipient fails for `reason`; `campaign_error` fails the whole campaign too."""

    reason: str
    campaign_error: bool = False


RetryDecision = Retry | GiveUp

# Why a recipient fails at once, for each class that FailureClass.retryable says is never retried.
_NEVER_RETRIED: Final = {
    FailureClass.DOCUMENT: GiveUp("the document cannot be sent", campaign_error=True),
    FailureClass.PERMANENT: GiveUp("permanent failure: the number cannot receive this fax"),
}


@dataclass(frozen=True)
class RetryPolicy:
    """The back-off and limits per failure class; every figure is a setting (HylaFAX defaults)."""

    busy_wait_s: float = 180.0
    no_answer_wait_s: float = 300.0
    congestion_wait_s: float = 60.0
    no_fax_wait_s: float = 300.0
    transfer_wait_s: float = 60.0
    max_dials: int = 12
    max_no_fax: int = 2
    max_tries: int = 3
    best_extra_tries: int = 1
    jitter: float = 0.25
    kill_time_s: float = 3 * 3600.0
    quality: Quality = Quality.NORMAL
    max_calls: int | None = None  # a line's limit on the calls above, all classes together

    def __post_init__(self) -> None:
        waits = (
            self.busy_wait_s,
            self.no_answer_wait_s,
            self.congestion_wait_s,
            self.no_fax_wait_s,
            self.transfer_wait_s,
            self.kill_time_s,
        )
        if min(waits) <= 0:
            raise ValueError("retry waits and the kill time must be positive")
        if min(self.max_dials, self.max_no_fax, self.max_tries) < 1 or self.best_extra_tries < 0:
            raise ValueError("retry limits must be at least 1 (extra tries at least 0)")
        if not 0 <= self.jitter < 1:
            raise ValueError(f"jitter must be in [0, 1), not {self.jitter}")
        if self.max_calls is not None and self.max_calls < 1:
            raise ValueError("a line's call limit must be at least 1")

    def for_call(self, quality: Quality, max_calls: int | None = None) -> RetryPolicy:
        """This policy for a campaign sent at `quality` ("best" gets one more try) on a line
        allowing `max_calls` calls per recipient (None: no limit but the policy's own)."""
        return dataclasses.replace(self, quality=quality, max_calls=max_calls)

    @property
    def tries_limit(self) -> int:
        """How many transfer failures a recipient may have at this policy's quality."""
        extra = self.best_extra_tries if self.quality is Quality.BEST else 0
        return self.max_tries + extra

    def base_wait_s(self, failure: FailureClass) -> float:
        """The wait before the next call, before jitter; ValueError for a class never retried."""
        if not failure.retryable:
            raise ValueError(f"{failure.value} failures are never retried")
        waits = {
            FailureClass.BUSY: self.busy_wait_s,
            FailureClass.NO_ANSWER: self.no_answer_wait_s,
            FailureClass.CONGESTION: self.congestion_wait_s,
            FailureClass.NO_FAX: self.no_fax_wait_s,
            FailureClass.TRANSFER_FAILED: self.transfer_wait_s,
        }
        return waits[failure]

    def decide(
        self, history: RecipientHistory, failure: FailureClass, *, now: datetime, rand: float
    ) -> RetryDecision:
        """Retry or give up after `failure`; `rand` in [0, 1) picks the jitter."""
        if not 0 <= rand < 1:
            raise ValueError(f"rand must be in [0, 1), not {rand}")
        if now.utcoffset() is None:
            raise ValueError("now must be an aware datetime")
        if not failure.retryable:
            return _NEVER_RETRIED[failure]
        limit = self._limit_reached(history, failure)
        if limit is not None:
            return GiveUp(limit)

        wait_s = self.base_wait_s(failure) * (1 - self.jitter + 2 * self.jitter * rand)
        at = now + timedelta(seconds=wait_s)
        if at >= self.kill_at(history, now=now):
            return GiveUp(
                f"not delivered within {_duration(self.kill_time_s)} of the first dial (kill time)"
            )
        return Retry(at, StepDown.after(history.tries), resume_page=history.pages_confirmed)

    def kill_at(self, history: RecipientHistory, *, now: datetime) -> datetime:
        """When a retry is no longer made: the kill time after the first dial (`now` if none)."""
        # The kill time counts the time the recipient was eligible since its first dial, not
        # the time its due retries waited behind other calls for a channel.
        return (history.first_dial_at or now) + timedelta(
            seconds=self.kill_time_s + history.waited_s
        )

    def tries_left(self, history: RecipientHistory, failure: FailureClass) -> int | None:
        """How many more calls failing as `failure` did may be retried before the recipient
        fails; None when that class counts against no limit (congestion)."""
        if not failure.retryable:
            return 0
        line_left = None if self.max_calls is None else max(0, self.max_calls - _calls(history))
        if failure in (FailureClass.BUSY, FailureClass.NO_ANSWER):
            left = max(0, self.max_dials - history.dials)
        elif failure is FailureClass.NO_FAX:
            left = max(0, self.max_no_fax - history.no_fax)
        elif failure is FailureClass.TRANSFER_FAILED:
            left = max(0, self.tries_limit - history.tries)
        else:  # congestion is ours, not the recipient's: only a line's limit already reached
            return 0 if line_left == 0 else None
        return left if line_left is None else min(left, line_left)

    def _limit_reached(self, history: RecipientHistory, failure: FailureClass) -> str | None:
        if self.tries_left(history, failure) != 0:
            return None
        calls = _calls(history)
        if self.max_calls is not None and calls >= self.max_calls:
            return f"not delivered after {calls} calls (the line's limit)"
        if failure is FailureClass.NO_FAX:
            return f"not a fax machine (no fax answered {history.no_fax} times)"
        if failure is FailureClass.TRANSFER_FAILED:
            return f"transfer failed {history.tries} times"
        return f"busy or no answer after {history.dials} dials"


def _calls(history: RecipientHistory) -> int:
    """The calls a recipient answered for: a line's limit counts them (congestion is ours)."""
    return history.dials + history.tries + history.no_fax


@dataclass(frozen=True)
class RetriesWaiting:
    """Recipients waiting for a retry: how many, the next call, and the latest a retry is made."""

    count: int
    next_call_at: datetime
    last_try_by: datetime


def retries_waiting(
    policy: RetryPolicy, waiting: Iterable[tuple[datetime, RecipientHistory]]
) -> RetriesWaiting | None:
    """What (due time, history) pairs of recipients waiting for a retry add up to; None if none."""
    count = 0
    next_call_at = last_try_by = None
    for due_at, history in waiting:
        kill_at = policy.kill_at(history, now=due_at)
        count += 1
        next_call_at = due_at if next_call_at is None else min(next_call_at, due_at)
        last_try_by = kill_at if last_try_by is None else max(last_try_by, kill_at)
    if next_call_at is None or last_try_by is None:
        return None
    return RetriesWaiting(count, next_call_at, last_try_by)


def _duration(seconds: float) -> str:
    if seconds % 3600 == 0:
        return f"{seconds / 3600:g} h"
    if seconds % 60 == 0:
        return f"{seconds / 60:g} min"
    return f"{seconds:g} s"
