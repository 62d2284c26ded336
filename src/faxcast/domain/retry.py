"""When to call a recipient again, and how: DESIGN.md's delivery and retry policy."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from faxcast.domain.outcome import FailureClass
from faxcast.domain.quality import FaxProfile, Modem, Quality

_MODEMS_FASTEST_FIRST: Final = tuple(Modem)
CALL_CAP_S: Final = 120.0  # DESIGN.md's watchdog: 2 min per call plus 1 min per page
PAGE_CAP_S: Final = 60.0


def call_cap_s(pages: int) -> float:
    """The longest a call for `pages` pages may last before the watchdog ends it."""
    return CALL_CAP_S + PAGE_CAP_S * pages


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
        # The kill time counts the time the recipient was eligible since its first dial, not
        # the time its due retries waited behind other calls for a channel.
        kill_at = (history.first_dial_at or now) + timedelta(
            seconds=self.kill_time_s + history.waited_s
        )
        if at >= kill_at:
            return GiveUp(
                f"not delivered within {_duration(self.kill_time_s)} of the first dial (kill time)"
            )
        return Retry(at, StepDown.after(history.tries), resume_page=history.pages_confirmed)

    def _limit_reached(self, history: RecipientHistory, failure: FailureClass) -> str | None:
        # The line's limit counts the calls the recipient answered for (congestion is ours).
        calls = history.dials + history.tries + history.no_fax
        if self.max_calls is not None and calls >= self.max_calls:
            return f"not delivered after {calls} calls (the line's limit)"
        if failure in (FailureClass.BUSY, FailureClass.NO_ANSWER) and (
            history.dials >= self.max_dials
        ):
            return f"busy or no answer after {history.dials} dials"
        if failure is FailureClass.NO_FAX and history.no_fax >= self.max_no_fax:
            return f"not a fax machine (no fax answered {history.no_fax} times)"
        if failure is FailureClass.TRANSFER_FAILED and history.tries >= self.tries_limit:
            return f"transfer failed {history.tries} times"
        return None


def _duration(seconds: float) -> str:
    if seconds % 3600 == 0:
        return f"{seconds / 3600:g} h"
    if seconds % 60 == 0:
        return f"{seconds / 60:g} min"
    return f"{seconds:g} s"
