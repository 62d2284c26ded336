"""The `Campaign` aggregate: its states, the one transition table, its outcome and its checks."""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Final
from zoneinfo import ZoneInfo

from faxcast.domain.quality import Quality
from faxcast.domain.recipient import Counts
from faxcast.errors import ConflictError, InputError
from faxcast.fields import Field
from faxcast.i18n import Code, Message, OneOf, codes

NAME_MAX_CHARS: Final = 100


class CampaignState(enum.Enum):
    """The campaign's lifecycle (the seed's "état")."""

    SCHEDULED = "scheduled"
    WAITING = "waiting"
    RUNNING = "running"
    STOPPING = "stopping"
    FINISHED = "finished"
    ERROR = "error"

    @property
    def provider_status(self) -> str:
        """The name the provider's API gives this state, for the compatible endpoints."""
        return _PROVIDER_STATUS[self]


_PROVIDER_STATUS: Final[Mapping[CampaignState, str]] = {
    CampaignState.SCHEDULED: "todo",
    CampaignState.WAITING: "stopTodo",
    CampaignState.RUNNING: "doing",
    CampaignState.STOPPING: "stopDoing",
    CampaignState.FINISHED: "done",
    CampaignState.ERROR: "error",
}


class CampaignOutcome(enum.Enum):
    """The campaign's result (the seed's "statut"); `n/a` until it is finished."""

    NA = "n/a"
    SUCCESS = "success"
    PARTIAL = "partial"
    ERROR = "error"


class SendType(enum.Enum):
    """Scheduled campaigns start at their time; manual ones wait for a launch."""

    SCHEDULED = "scheduled"
    MANUAL = "manual"


class Command(enum.Enum):
    """What can happen to an existing campaign; creation is `initial_state`."""

    LAUNCH = "launch"
    STOP = "stop"
    END_STOP = "end_stop"
    START_DUE = "start_due"
    SETTLE = "settle"
    RECOUNT = "recount"
    FAIL = "fail"
    DELETE = "delete"
    REMOVE_FLAGGED = "remove_flagged"


_S = CampaignState
_C = Command

_INITIAL_STATES: Final[Mapping[SendType, CampaignState]] = {
    SendType.MANUAL: _S.WAITING,
    SendType.SCHEDULED: _S.SCHEDULED,
}

# The whole lifecycle. A pair that is absent is refused with a ConflictError. Guards that
# need more than the state (calls in progress, the time, recipients left) live in `Campaign`.
_TRANSITIONS: Final[Mapping[tuple[CampaignState, Command], CampaignState]] = {
    (_S.WAITING, _C.LAUNCH): _S.RUNNING,
    (_S.SCHEDULED, _C.START_DUE): _S.RUNNING,
    (_S.SCHEDULED, _C.STOP): _S.STOPPING,
    (_S.RUNNING, _C.STOP): _S.STOPPING,
    (_S.STOPPING, _C.END_STOP): _S.WAITING,
    (_S.RUNNING, _C.SETTLE): _S.FINISHED,
    # A stop that races the last call can find nothing left to launch: the campaign is done.
    (_S.STOPPING, _C.SETTLE): _S.FINISHED,
    # A delivery recorded after its recipient had failed for good: the status follows it.
    (_S.FINISHED, _C.RECOUNT): _S.FINISHED,
    (_S.SCHEDULED, _C.FAIL): _S.ERROR,
    (_S.WAITING, _C.FAIL): _S.ERROR,
    (_S.RUNNING, _C.FAIL): _S.ERROR,
    (_S.STOPPING, _C.FAIL): _S.ERROR,
    # Deleting keeps the state: the use case then removes the row.
    # Running and stopping are absent because calls may be in progress.
    (_S.SCHEDULED, _C.DELETE): _S.SCHEDULED,
    (_S.WAITING, _C.DELETE): _S.WAITING,
    (_S.FINISHED, _C.DELETE): _S.FINISHED,
    (_S.ERROR, _C.DELETE): _S.ERROR,
    # Numbers leave a campaign only before any call (`Campaign.without_flagged`).
    (_S.SCHEDULED, _C.REMOVE_FLAGGED): _S.SCHEDULED,
    (_S.WAITING, _C.REMOVE_FLAGGED): _S.WAITING,
}

# How each command reads in a refusal, and each state in it.
_REFUSALS: Final[Mapping[Command, Code]] = {
    _C.LAUNCH: codes.CANNOT_LAUNCH,
    _C.STOP: codes.CANNOT_STOP,
    _C.END_STOP: codes.CANNOT_END_STOP,
    _C.START_DUE: codes.CANNOT_START,
    _C.SETTLE: codes.CANNOT_FINISH,
    _C.RECOUNT: codes.CANNOT_RECOUNT,
    _C.FAIL: codes.CANNOT_FAIL,
    _C.DELETE: codes.CANNOT_DELETE,
    _C.REMOVE_FLAGGED: codes.CANNOT_REMOVE_FLAGGED,
}
_STATE_WORDS: Final[Mapping[CampaignState, Code]] = {
    _S.SCHEDULED: codes.STATE_SCHEDULED,
    _S.WAITING: codes.STATE_WAITING,
    _S.RUNNING: codes.STATE_RUNNING,
    _S.STOPPING: codes.STATE_STOPPING,
    _S.FINISHED: codes.STATE_FINISHED,
    _S.ERROR: codes.STATE_ERROR,
}


def initial_state(send_type: SendType) -> CampaignState:
    """The state a new campaign starts in: manual ones wait, scheduled ones wait for their time."""
    return _INITIAL_STATES[send_type]


def allowed_commands(state: CampaignState) -> frozenset[Command]:
    """The commands the table allows from `state` (what the "..." menu may offer)."""
    return frozenset(command for (source, command) in _TRANSITIONS if source is state)


def transition(state: CampaignState, command: Command, *, name: str) -> CampaignState:
    """The state after `command`, or ConflictError naming the campaign and its state."""
    try:
        return _TRANSITIONS[(state, command)]
    except KeyError:
        sources = [source for source in CampaignState if (source, command) in _TRANSITIONS]
        raise ConflictError(
            _REFUSALS[command](
                name=name,
                state=_describe(state),
                allowed=OneOf(tuple(_STATE_WORDS[source]() for source in sources)),
            )
        ) from None


def _describe(state: CampaignState) -> Message:
    return codes.IN_ERROR() if state is CampaignState.ERROR else _STATE_WORDS[state]()


def compute_outcome(
    delivered: int, failed: int, total: int, *, could_not_run: bool = False
) -> CampaignOutcome:
    """The seed's status: success if all delivered, partial if some, error if none or not run."""
    if min(delivered, failed, total) < 0 or delivered + failed > total:
        raise ValueError(f"inconsistent counts: {delivered} delivered, {failed} failed of {total}")
    if could_not_run:
        return CampaignOutcome.ERROR
    if delivered + failed < total:
        return CampaignOutcome.NA
    if delivered == 0:
        return CampaignOutcome.ERROR
    return CampaignOutcome.SUCCESS if failed == 0 else CampaignOutcome.PARTIAL


def validate_name(name: str) -> str:
    """The campaign name without surrounding blanks; 1 to 100 characters or InputError."""
    stripped = name.strip()
    if not stripped:
        raise InputError(codes.NAME_EMPTY(), field=Field.NAME)
    if len(stripped) > NAME_MAX_CHARS:
        raise InputError(
            codes.NAME_TOO_LONG(count=len(stripped), limit=NAME_MAX_CHARS), field=Field.NAME
        )
    return stripped


def validate_send_at(
    send_type: SendType, send_at: datetime | None, *, now: datetime, zone: ZoneInfo
) -> datetime | None:
    """The send time in UTC: required and in the future when scheduled, absent when manual.

    A time without an offset is in `zone`, the account's; an error says times there too."""
    if send_type is SendType.MANUAL:
        if send_at is not None:
            raise InputError(codes.MANUAL_HAS_SEND_AT(), field=Field.SEND_AT)
        return None
    if send_at is None:
        raise InputError(codes.SEND_AT_MISSING(), field=Field.SEND_AT)
    if send_at.utcoffset() is None:
        send_at = send_at.replace(tzinfo=zone)
    if send_at <= now:
        raise InputError(
            codes.SEND_AT_PAST(
                when=f"{send_at.astimezone(zone):%Y-%m-%d %H:%M}",
                now=f"{now.astimezone(zone):%Y-%m-%d %H:%M}",
                zone=zone.key,
            ),
            field=Field.SEND_AT,
        )
    return send_at.astimezone(UTC)


@dataclass(frozen=True, kw_only=True)
class Campaign:
    """One document, many recipients, one schedule; each lifecycle step returns the next value.

    The lifecycle is decided here and nowhere else: use cases load a campaign, ask it for the
    next one, and save that (`store.repository.save_campaign`), in one transaction.
    """

    id: int
    account_id: int
    line_id: int
    reference: str
    name: str
    document_id: int | None
    pages: int
    quality: Quality
    send_type: SendType
    send_at: datetime | None
    state: CampaignState
    outcome: CampaignOutcome
    count_total: int
    count_delivered: int
    count_failed: int
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

    @property
    def count_todo(self) -> int:
        """Recipients neither delivered nor failed yet."""
        return self.count_total - self.count_delivered - self.count_failed

    @property
    def counts(self) -> Counts:
        """The recipients by outcome (they always add up)."""
        return Counts(self.count_total, self.count_todo, self.count_delivered, self.count_failed)

    def launched(self, *, now: datetime) -> Campaign:
        """A waiting campaign started by hand; its first start stays its start date."""
        return replace(self, state=self._next(Command.LAUNCH), started_at=self.started_at or now)

    def started(self, *, now: datetime) -> Campaign:
        """A scheduled campaign whose time has come, running."""
        state = self._next(Command.START_DUE)
        if self.send_at is None:
            raise ConflictError(codes.START_WITHOUT_SEND_AT(name=self.name))
        if now < self.send_at:
            raise ConflictError(
                codes.START_BEFORE_SEND_AT(name=self.name, when=f"{self.send_at:%Y-%m-%d %H:%M}")
            )
        return replace(self, state=state, started_at=self.started_at or now)

    def stopped(self, *, calls_in_progress: int) -> Campaign:
        """Stop asked: no new call; it waits for a launch at once if no call is in progress."""
        _check_calls(calls_in_progress)
        stopping = replace(self, state=self._next(Command.STOP))
        return stopping.stop_ended(calls_in_progress=0) if calls_in_progress == 0 else stopping

    def stop_ended(self, *, calls_in_progress: int) -> Campaign:
        """A stopping campaign whose last call in progress has ended: it waits for a launch."""
        _check_calls(calls_in_progress)
        state = self._next(Command.END_STOP)
        if calls_in_progress > 0:
            raise ConflictError(codes.CALLS_IN_PROGRESS(name=self.name, count=calls_in_progress))
        return replace(self, state=state)

    def finished(self, *, now: datetime) -> Campaign:
        """Every recipient delivered or failed: finished, with the seed's status."""
        state = self._next(Command.SETTLE)
        if not self.counts.settled:
            raise ConflictError(codes.RECIPIENTS_TO_DO(name=self.name, count=self.count_todo))
        outcome = compute_outcome(self.count_delivered, self.count_failed, self.count_total)
        return replace(self, state=state, outcome=outcome, finished_at=now)

    def recounted(self) -> Campaign:
        """A finished campaign whose counts a late delivery moved: its status follows them."""
        state = self._next(Command.RECOUNT)
        if not self.counts.settled:
            raise ConflictError(codes.RECIPIENTS_TO_DO(name=self.name, count=self.count_todo))
        outcome = compute_outcome(self.count_delivered, self.count_failed, self.count_total)
        return replace(self, state=state, outcome=outcome)

    def failed(self, reason: str, *, now: datetime) -> Campaign:
        """The campaign cannot run (document unusable, line removed): an error, for good."""
        return replace(
            self,
            state=self._next(Command.FAIL),
            outcome=CampaignOutcome.ERROR,
            error=reason,
            finished_at=now,
        )

    def progressed(self, *, now: datetime, calls_in_progress: Callable[[], int]) -> Campaign:
        """After calls ended: finished once nobody is left, waiting once a stop's calls are over;
        a finished one's status recounted if a late delivery moved its counts.

        `calls_in_progress` is asked only when the answer matters (a stop with work left).
        """
        if self.state is CampaignState.FINISHED:
            counted = compute_outcome(self.count_delivered, self.count_failed, self.count_total)
            return self.recounted() if counted is not self.outcome else self
        if self.state not in (CampaignState.RUNNING, CampaignState.STOPPING):
            return self
        if self.counts.settled:
            return self.finished(now=now)
        if self.state is CampaignState.STOPPING:
            calls = calls_in_progress()
            if calls == 0:
                return self.stop_ended(calls_in_progress=calls)
        return self

    @property
    def before_start(self) -> bool:
        """Whether the campaign has never started: numbers may still leave it."""
        return Command.REMOVE_FLAGGED in allowed_commands(self.state) and self.started_at is None

    def without_flagged(self, *, flagged: int, called: int) -> Campaign:
        """The campaign once its `flagged` numbers (kept with a warning) are taken out: only
        before any call (`called` recipients were), and never all of its numbers."""
        state = self._next(Command.REMOVE_FLAGGED)
        if not self.before_start or called:
            raise ConflictError(codes.FLAGGED_AFTER_START(name=self.name))
        if flagged == 0:
            raise ConflictError(codes.FLAGGED_NONE(name=self.name))
        if flagged >= self.count_total:
            raise ConflictError(codes.FLAGGED_ALL(name=self.name, count=self.count_total))
        return replace(self, state=state, count_total=self.count_total - flagged)

    def check_deletable(self) -> None:
        """ConflictError unless the campaign may leave the history (no call can be running)."""
        self._next(Command.DELETE)

    def _next(self, command: Command) -> CampaignState:
        return transition(self.state, command, name=self.name)


def _check_calls(calls_in_progress: int) -> None:
    if calls_in_progress < 0:
        raise ValueError(f"negative number of calls in progress: {calls_in_progress}")
