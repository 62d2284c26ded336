"""Campaign states, transitions, outcome and creation checks, as DESIGN.md's state rules say.

The lifecycle methods tested here are the ones every use case calls (launch, stop, the
scheduler's start, settling, failing, deleting); test_campaign_owner.py keeps it so.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from faxcast.domain.campaign import (
    Campaign,
    CampaignOutcome,
    CampaignState,
    Command,
    SendType,
    allowed_commands,
    compute_outcome,
    initial_state,
    transition,
    validate_name,
    validate_send_at,
)
from faxcast.domain.quality import Quality
from faxcast.domain.recipient import Counts, RecipientState
from faxcast.errors import ConflictError, InputError
from faxcast.fields import Field

S = CampaignState
C = Command
T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
PARIS = ZoneInfo("Europe/Paris")
NAME = "Spring mailing"

# Written out again from DESIGN.md rather than imported, so the test checks the table.
EXPECTED: dict[tuple[CampaignState, Command], CampaignState] = {
    (S.WAITING, C.LAUNCH): S.RUNNING,
    (S.SCHEDULED, C.START_DUE): S.RUNNING,
    (S.SCHEDULED, C.STOP): S.STOPPING,
    (S.RUNNING, C.STOP): S.STOPPING,
    (S.STOPPING, C.END_STOP): S.WAITING,
    (S.RUNNING, C.SETTLE): S.FINISHED,
    (S.STOPPING, C.SETTLE): S.FINISHED,
    (S.FINISHED, C.RECOUNT): S.FINISHED,
    (S.SCHEDULED, C.FAIL): S.ERROR,
    (S.WAITING, C.FAIL): S.ERROR,
    (S.RUNNING, C.FAIL): S.ERROR,
    (S.STOPPING, C.FAIL): S.ERROR,
    (S.SCHEDULED, C.DELETE): S.SCHEDULED,
    (S.WAITING, C.DELETE): S.WAITING,
    (S.FINISHED, C.DELETE): S.FINISHED,
    (S.ERROR, C.DELETE): S.ERROR,
    (S.SCHEDULED, C.REMOVE_FLAGGED): S.SCHEDULED,
    (S.WAITING, C.REMOVE_FLAGGED): S.WAITING,
}
ALL_PAIRS = [(state, command) for state in CampaignState for command in Command]
TERMINAL = {S.FINISHED, S.ERROR}
NOTHING_SETTLED = Counts(3, 3, 0, 0)


def _campaign(
    state: CampaignState,
    *,
    send_type: SendType = SendType.SCHEDULED,
    counts: Counts = NOTHING_SETTLED,
) -> Campaign:
    ended = state in TERMINAL
    return Campaign(
        id=7,
        account_id=1,
        line_id=1,
        reference="C7Q2K0000",
        name=NAME,
        document_id=1,
        pages=2,
        quality=Quality.NORMAL,
        send_type=send_type,
        send_at=T0 if send_type is SendType.SCHEDULED else None,
        state=state,
        outcome=CampaignOutcome.ERROR if ended else CampaignOutcome.NA,
        count_total=counts.total,
        count_delivered=counts.delivered,
        count_failed=counts.failed,
        error=None,
        created_at=T0 - timedelta(days=1),
        started_at=T0 if state in (S.RUNNING, S.STOPPING) else None,
        finished_at=T0 if ended else None,
    )


def _apply(campaign: Campaign, command: Command) -> Campaign:
    """Run `command` with inputs that satisfy every guard but the state."""
    later = T0 + timedelta(hours=1)
    done = replace(campaign, count_delivered=2, count_failed=1)
    actions: dict[Command, Callable[[], Campaign]] = {
        C.LAUNCH: lambda: campaign.launched(now=later),
        C.STOP: lambda: campaign.stopped(calls_in_progress=2),
        C.END_STOP: lambda: campaign.stop_ended(calls_in_progress=0),
        C.START_DUE: lambda: campaign.started(now=later),
        C.SETTLE: lambda: done.finished(now=later),
        C.RECOUNT: done.recounted,
        C.FAIL: lambda: campaign.failed("line removed", now=later),
        C.DELETE: lambda: _deleted(campaign),
        C.REMOVE_FLAGGED: lambda: campaign.without_flagged(flagged=1, called=0),
    }
    return actions[command]()


def _deleted(campaign: Campaign) -> Campaign:
    campaign.check_deletable()
    return campaign  # deleting keeps the state: the use case then removes the row


@pytest.mark.parametrize(("state", "command"), ALL_PAIRS)
def test_transition_table_covers_every_pair(state: CampaignState, command: Command) -> None:
    if (state, command) in EXPECTED:
        assert transition(state, command, name=NAME) is EXPECTED[(state, command)]
        assert command in allowed_commands(state)
    else:
        with pytest.raises(ConflictError, match=f"campaign '{NAME}': it is [a-z ]*{state.value};"):
            transition(state, command, name=NAME)
        assert command not in allowed_commands(state)


@pytest.mark.parametrize(("state", "command"), ALL_PAIRS)
def test_lifecycle_follows_the_table(state: CampaignState, command: Command) -> None:
    campaign = _campaign(state)

    if (state, command) in EXPECTED:
        assert _apply(campaign, command).state is EXPECTED[(state, command)]
    else:
        with pytest.raises(ConflictError, match=state.value):
            _apply(campaign, command)
    assert campaign.state is state  # a campaign is a value: a step returns the next one


def test_refusal_says_what_is_wrong_and_what_is_allowed() -> None:
    with pytest.raises(ConflictError) as caught:
        _campaign(S.RUNNING).launched(now=T0)

    assert str(caught.value) == (
        f"cannot launch campaign '{NAME}': it is running; only a waiting campaign can be launched"
    )


def test_delete_refusal_lists_the_states_that_allow_it() -> None:
    with pytest.raises(ConflictError) as caught:
        _campaign(S.STOPPING).check_deletable()

    assert str(caught.value) == (
        f"cannot delete campaign '{NAME}': it is stopping; "
        "only a scheduled, waiting, finished or error campaign can be deleted"
    )


def test_provider_status_names() -> None:
    assert {state: state.provider_status for state in CampaignState} == {
        S.SCHEDULED: "todo",
        S.WAITING: "stopTodo",
        S.RUNNING: "doing",
        S.STOPPING: "stopDoing",
        S.FINISHED: "done",
        S.ERROR: "error",
    }
    assert [outcome.value for outcome in CampaignOutcome] == ["n/a", "success", "partial", "error"]


def test_create_starts_manual_campaigns_waiting_and_scheduled_ones_scheduled() -> None:
    assert initial_state(SendType.MANUAL) is S.WAITING
    assert initial_state(SendType.SCHEDULED) is S.SCHEDULED


def test_scheduled_campaign_starts_only_at_its_time() -> None:
    campaign = _campaign(S.SCHEDULED)

    with pytest.raises(ConflictError, match="scheduled for 2025-03-01 09:00 UTC"):
        campaign.started(now=T0 - timedelta(seconds=1))
    started = campaign.started(now=T0)

    assert (started.state, started.started_at) == (S.RUNNING, T0)


def test_stop_waits_for_calls_in_progress_then_a_launch_resumes() -> None:
    campaign = _campaign(S.WAITING, send_type=SendType.MANUAL).launched(now=T0)

    stopping = campaign.stopped(calls_in_progress=2)
    with pytest.raises(ConflictError, match="2 call"):
        stopping.stop_ended(calls_in_progress=2)
    waiting = stopping.stop_ended(calls_in_progress=0)
    relaunched = waiting.launched(now=T0 + timedelta(hours=1))

    assert [c.state for c in (stopping, waiting, relaunched)] == [S.STOPPING, S.WAITING, S.RUNNING]
    assert relaunched.started_at == T0  # the first start is the campaign's dateStart


def test_stop_without_calls_goes_straight_to_waiting() -> None:
    assert _campaign(S.SCHEDULED).stopped(calls_in_progress=0).state is S.WAITING


def test_finishing_needs_every_recipient_settled_and_sets_the_outcome() -> None:
    with pytest.raises(ConflictError, match="1 recipient"):
        _campaign(S.RUNNING, counts=Counts(3, 1, 2, 0)).finished(now=T0)
    finished = _campaign(S.RUNNING, counts=Counts(3, 0, 2, 1)).finished(now=T0)

    assert (finished.state, finished.outcome, finished.finished_at) == (
        S.FINISHED,
        CampaignOutcome.PARTIAL,
        T0,
    )


@pytest.mark.parametrize(
    ("state", "counts", "calls", "expected"),
    [
        (S.RUNNING, Counts(3, 1, 2, 0), 1, S.RUNNING),
        (S.RUNNING, Counts(3, 0, 2, 1), 0, S.FINISHED),
        (S.STOPPING, Counts(3, 1, 2, 0), 1, S.STOPPING),
        (S.STOPPING, Counts(3, 1, 2, 0), 0, S.WAITING),
        # A stop that races the last call finds nothing left to launch: the campaign is done.
        (S.STOPPING, Counts(3, 0, 3, 0), 0, S.FINISHED),
        (S.WAITING, Counts(3, 0, 3, 0), 0, S.WAITING),
        (S.ERROR, Counts(3, 0, 0, 3), 0, S.ERROR),
    ],
)
def test_progress_after_calls_finishes_or_ends_a_stop(
    state: CampaignState, counts: Counts, calls: int, expected: CampaignState
) -> None:
    asked: list[int] = []

    def calls_in_progress() -> int:
        asked.append(calls)
        return calls

    after = _campaign(state, counts=counts).progressed(now=T0, calls_in_progress=calls_in_progress)

    assert after.state is expected
    # Calls are counted only for a stop that still has work left.
    assert bool(asked) == (state is S.STOPPING and not counts.settled)


@pytest.mark.parametrize(
    ("before", "after", "status"),
    [
        (Counts(3, 0, 0, 3), Counts(3, 0, 1, 2), CampaignOutcome.PARTIAL),
        (Counts(3, 0, 2, 1), Counts(3, 0, 3, 0), CampaignOutcome.SUCCESS),
        (Counts(1, 0, 0, 1), Counts(1, 0, 1, 0), CampaignOutcome.SUCCESS),
    ],
)
def test_a_late_delivery_recounts_a_finished_campaigns_status(
    before: Counts, after: Counts, status: CampaignOutcome
) -> None:
    finished = _campaign(S.RUNNING, counts=before).finished(now=T0)
    moved = replace(finished, count_delivered=after.delivered, count_failed=after.failed)

    recounted = moved.progressed(now=T0 + timedelta(hours=1), calls_in_progress=lambda: 0)

    assert (recounted.state, recounted.outcome, recounted.finished_at) == (S.FINISHED, status, T0)
    assert finished.progressed(now=T0, calls_in_progress=lambda: 0) is finished


def test_a_campaign_that_could_not_run_keeps_its_error_status() -> None:
    failed = _campaign(S.RUNNING, counts=Counts(3, 0, 0, 3)).failed("line removed", now=T0)
    delivered_late = replace(failed, count_delivered=1, count_failed=2)

    assert delivered_late.progressed(now=T0, calls_in_progress=lambda: 0) is delivered_late
    assert delivered_late.outcome is CampaignOutcome.ERROR


def test_fail_is_an_error_outcome_with_its_reason() -> None:
    failed = _campaign(S.RUNNING).failed("the document cannot be sent", now=T0)

    assert (failed.state, failed.outcome, failed.error, failed.finished_at) == (
        S.ERROR,
        CampaignOutcome.ERROR,
        "the document cannot be sent",
        T0,
    )


@pytest.mark.parametrize(
    ("delivered", "failed", "total", "could_not_run", "expected"),
    [
        (5, 0, 5, False, CampaignOutcome.SUCCESS),
        (4, 1, 5, False, CampaignOutcome.PARTIAL),
        (1, 4, 5, False, CampaignOutcome.PARTIAL),
        (0, 5, 5, False, CampaignOutcome.ERROR),
        (0, 0, 0, False, CampaignOutcome.ERROR),
        (3, 0, 5, False, CampaignOutcome.NA),
        (0, 0, 5, False, CampaignOutcome.NA),
        (5, 0, 5, True, CampaignOutcome.ERROR),
        (0, 0, 5, True, CampaignOutcome.ERROR),
    ],
)
def test_outcome_rule(
    delivered: int, failed: int, total: int, could_not_run: bool, expected: CampaignOutcome
) -> None:
    assert compute_outcome(delivered, failed, total, could_not_run=could_not_run) is expected


@pytest.mark.parametrize(("delivered", "failed", "total"), [(3, 3, 5), (-1, 0, 5)])
def test_outcome_refuses_counts_that_cannot_be(delivered: int, failed: int, total: int) -> None:
    with pytest.raises(ValueError, match="inconsistent counts"):
        compute_outcome(delivered, failed, total)


def test_counts_add_up() -> None:
    assert not Counts(total=3, todo=2, delivered=1, failed=0).settled
    assert Counts(2, 0, 1, 1).settled
    assert [state.settled for state in RecipientState] == [False, False, True, True]
    with pytest.raises(ValueError, match="do not add up"):
        Counts(total=3, todo=1, delivered=1, failed=0)
    with pytest.raises(ValueError, match="negative"):
        Counts(total=0, todo=-1, delivered=1, failed=0)


@pytest.mark.parametrize("name", ["", "   ", "x" * 101, " " + "x" * 101])
def test_bad_names_are_refused(name: str) -> None:
    with pytest.raises(InputError) as caught:
        validate_name(name)

    assert caught.value.field is Field.NAME


def test_name_is_stripped_and_may_be_100_characters() -> None:
    assert validate_name("\t" + "x" * 100 + " ") == "x" * 100


@pytest.mark.parametrize("send_at", [T0, T0 - timedelta(days=3)])
def test_send_date_in_the_past_is_refused(send_at: datetime) -> None:
    paris = send_at.astimezone(PARIS)
    with pytest.raises(InputError, match=f"{paris:%Y-%m-%d %H:%M} is in the past") as caught:
        validate_send_at(SendType.SCHEDULED, send_at, now=T0, zone=PARIS)

    assert str(caught.value.message).endswith(
        f"it is now {T0.astimezone(PARIS):%Y-%m-%d %H:%M} (Europe/Paris time)"
    )

    assert caught.value.field is Field.SEND_AT


@pytest.mark.parametrize(
    ("send_type", "send_at", "message"),
    [
        (SendType.SCHEDULED, None, "needs a send date"),
        (SendType.MANUAL, T0 + timedelta(hours=1), "manual campaign has no send date"),
    ],
)
def test_send_date_must_match_the_send_type(
    send_type: SendType, send_at: datetime | None, message: str
) -> None:
    with pytest.raises(InputError, match=message) as caught:
        validate_send_at(send_type, send_at, now=T0, zone=PARIS)

    assert caught.value.field is Field.SEND_AT


def test_send_date_in_the_future_is_accepted() -> None:
    later = T0 + timedelta(seconds=1)

    assert validate_send_at(SendType.SCHEDULED, later, now=T0, zone=PARIS) == later
    assert validate_send_at(SendType.MANUAL, None, now=T0, zone=PARIS) is None


def test_send_date_without_an_offset_is_in_the_accounts_zone() -> None:
    # 10:30 in Paris in March (UTC+1) is 09:30 UTC, half an hour after T0.
    naive = datetime(2025, 3, 1, 10, 30)

    assert validate_send_at(SendType.SCHEDULED, naive, now=T0, zone=PARIS) == datetime(
        2025, 3, 1, 9, 30, tzinfo=UTC
    )
    with pytest.raises(InputError, match="2025-03-01 10:00 is in the past"):
        validate_send_at(SendType.SCHEDULED, datetime(2025, 3, 1, 10, 0), now=T0, zone=PARIS)


class CampaignMachine(RuleBasedStateMachine):
    """Random commands with random inputs; the lifecycle must follow the table and its guards."""

    def __init__(self) -> None:
        super().__init__()
        self.now = T0 - timedelta(hours=2)
        self.campaign = _campaign(S.SCHEDULED)
        self.deleted = False

    def _attempt(self, command: Command, action: Callable[[], Campaign], guard: bool) -> None:
        before = self.campaign
        if (before.state, command) in EXPECTED and guard:
            self.campaign = action()
        else:
            with pytest.raises(ConflictError):
                action()
        assert before.state is not S.FINISHED or self.campaign.state is S.FINISHED

    @rule(seconds=st.integers(min_value=0, max_value=7200))
    def time_passes(self, seconds: int) -> None:
        self.now += timedelta(seconds=seconds)

    @precondition(lambda self: not self.deleted)
    @rule()
    def launch(self) -> None:
        before = self.campaign.state
        self._attempt(C.LAUNCH, lambda: self.campaign.launched(now=self.now), guard=True)
        if self.campaign.state is not before:
            assert (before, self.campaign.state) == (S.WAITING, S.RUNNING)

    @precondition(lambda self: not self.deleted)
    @rule()
    def start_due(self) -> None:
        due = self.campaign.send_at is not None and self.campaign.send_at <= self.now
        self._attempt(C.START_DUE, lambda: self.campaign.started(now=self.now), guard=due)

    @precondition(lambda self: not self.deleted)
    @rule(calls=st.integers(min_value=0, max_value=3))
    def stop(self, calls: int) -> None:
        before = self.campaign.state
        self._attempt(C.STOP, lambda: self.campaign.stopped(calls_in_progress=calls), guard=True)
        if self.campaign.state is not before:
            assert self.campaign.state is (S.STOPPING if calls else S.WAITING)

    @precondition(lambda self: not self.deleted)
    @rule(calls=st.integers(min_value=0, max_value=3))
    def end_stop(self, calls: int) -> None:
        action = lambda: self.campaign.stop_ended(calls_in_progress=calls)  # noqa: E731
        self._attempt(C.END_STOP, action, guard=calls == 0)

    @precondition(lambda self: not self.deleted and self.campaign.count_todo > 0)
    @rule(delivered=st.booleans())
    def a_call_settles(self, delivered: bool) -> None:
        self.campaign = replace(
            self.campaign,
            count_delivered=self.campaign.count_delivered + delivered,
            count_failed=self.campaign.count_failed + (not delivered),
        )

    @precondition(lambda self: not self.deleted)
    @rule(calls=st.integers(min_value=0, max_value=2))
    def progress(self, calls: int) -> None:
        before = self.campaign
        self.campaign = before.progressed(now=self.now, calls_in_progress=lambda: calls)
        if before.state in (S.RUNNING, S.STOPPING) and before.counts.settled:
            assert self.campaign.state is S.FINISHED

    @precondition(lambda self: not self.deleted)
    @rule()
    def fail(self) -> None:
        action = lambda: self.campaign.failed("line removed", now=self.now)  # noqa: E731
        self._attempt(C.FAIL, action, guard=True)

    @precondition(lambda self: not self.deleted)
    @rule()
    def delete(self) -> None:
        before = self.campaign.state
        try:
            self.campaign.check_deletable()
        except ConflictError:
            assert before in (S.RUNNING, S.STOPPING)
        else:
            self.deleted = True
            assert before not in (S.RUNNING, S.STOPPING)

    @invariant()
    def outcome_is_na_until_the_end(self) -> None:
        ended = self.campaign.state in TERMINAL
        assert (self.campaign.outcome is not CampaignOutcome.NA) == ended
        assert (self.campaign.finished_at is not None) == ended

    @invariant()
    def running_campaigns_have_started(self) -> None:
        if self.campaign.state is S.RUNNING:
            assert self.campaign.started_at is not None

    @invariant()
    def counts_add_up(self) -> None:
        assert self.campaign.counts.total == self.campaign.count_total


CampaignMachine.TestCase.settings = settings(
    max_examples=150, stateful_step_count=25, deadline=None
)
TestCampaignMachine = CampaignMachine.TestCase


@pytest.mark.parametrize("state", [S.SCHEDULED, S.WAITING])
def test_flagged_numbers_leave_only_before_the_start_and_never_all(state: CampaignState) -> None:
    campaign = _campaign(state)
    after = campaign.without_flagged(flagged=2, called=0)
    assert (after.state, after.count_total, after.counts.todo) == (state, 1, 1)
    started = replace(campaign, started_at=T0)
    refusals: list[tuple[Callable[[], Campaign], str]] = [
        (lambda: started.without_flagged(flagged=2, called=0), "campaign.flagged_after_start"),
        (lambda: campaign.without_flagged(flagged=2, called=1), "campaign.flagged_after_start"),
        (lambda: campaign.without_flagged(flagged=0, called=0), "campaign.flagged_none"),
        (lambda: campaign.without_flagged(flagged=3, called=0), "campaign.flagged_all"),
    ]
    for attempt, code in refusals:
        with pytest.raises(ConflictError) as refused:
            attempt()
        assert refused.value.message.code == code
    assert str(refused.value.message) == (
        f"cannot remove the flagged numbers of campaign '{NAME}': they are all of its 3 numbers;"
        " delete the campaign instead"
    )
