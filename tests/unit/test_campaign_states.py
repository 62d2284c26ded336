"""Campaign states, transitions, outcome and creation checks, as DESIGN.md's state rules say."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from functools import partial

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from faxcast.domain.campaign import (
    Campaign,
    CampaignCreated,
    CampaignDeleted,
    CampaignFailed,
    CampaignFinished,
    CampaignLaunched,
    CampaignOutcome,
    CampaignStarted,
    CampaignState,
    CampaignStopped,
    CampaignStopping,
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
    (S.SCHEDULED, C.FAIL): S.ERROR,
    (S.WAITING, C.FAIL): S.ERROR,
    (S.RUNNING, C.FAIL): S.ERROR,
    (S.STOPPING, C.FAIL): S.ERROR,
    (S.SCHEDULED, C.DELETE): S.SCHEDULED,
    (S.WAITING, C.DELETE): S.WAITING,
    (S.FINISHED, C.DELETE): S.FINISHED,
    (S.ERROR, C.DELETE): S.ERROR,
}
ALL_PAIRS = [(state, command) for state in CampaignState for command in Command]
TERMINAL = {S.FINISHED, S.ERROR}


def _campaign(state: CampaignState) -> Campaign:
    return Campaign(
        name=NAME,
        reference="FC-7Q2K",
        state=state,
        send_type=SendType.SCHEDULED,
        send_at=T0,
        quality=Quality.NORMAL,
    )


def _apply(campaign: Campaign, command: Command) -> None:
    """Run `command` with inputs that satisfy every guard but the state."""
    later = T0 + timedelta(hours=1)
    actions: dict[Command, Callable[[], None]] = {
        C.LAUNCH: lambda: campaign.launch(now=later),
        C.STOP: lambda: campaign.stop(calls_in_progress=2),
        C.END_STOP: lambda: campaign.end_stop(calls_in_progress=0),
        C.START_DUE: lambda: campaign.start_due(now=later),
        C.SETTLE: lambda: campaign.settle(Counts(3, 0, 2, 1), now=later),
        C.FAIL: lambda: campaign.fail("line removed", now=later),
        C.DELETE: campaign.delete,
    }
    actions[command]()


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
def test_aggregate_follows_the_table(state: CampaignState, command: Command) -> None:
    campaign = _campaign(state)

    if (state, command) in EXPECTED:
        _apply(campaign, command)
        assert campaign.state is EXPECTED[(state, command)]
        assert len(campaign.events) == 1
    else:
        with pytest.raises(ConflictError, match=state.value):
            _apply(campaign, command)
        assert campaign.state is state
        assert campaign.events == []


def test_refusal_says_what_is_wrong_and_what_is_allowed() -> None:
    with pytest.raises(ConflictError) as caught:
        _campaign(S.RUNNING).launch(now=T0)

    assert str(caught.value) == (
        f"cannot launch campaign '{NAME}': it is running; only a waiting campaign can be launched"
    )


def test_delete_refusal_lists_the_states_that_allow_it() -> None:
    with pytest.raises(ConflictError) as caught:
        _campaign(S.STOPPING).delete()

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


def test_create_manual_waits_for_a_launch() -> None:
    campaign = Campaign.create(
        name="  Spring mailing ",
        reference="FC-1",
        send_type=SendType.MANUAL,
        send_at=None,
        quality=Quality.BEST,
        now=T0,
    )

    assert campaign.name == NAME
    assert campaign.state is S.WAITING is initial_state(SendType.MANUAL)
    assert campaign.outcome is CampaignOutcome.NA
    assert campaign.events == [CampaignCreated("FC-1", S.WAITING)]


def test_create_scheduled_keeps_its_time_in_utc() -> None:
    paris = timezone(timedelta(hours=1))
    campaign = Campaign.create(
        name=NAME,
        reference="FC-2",
        send_type=SendType.SCHEDULED,
        send_at=datetime(2025, 3, 1, 12, 0, tzinfo=paris),
        quality=Quality.NORMAL,
        now=T0,
    )

    assert campaign.state is S.SCHEDULED
    assert campaign.send_at == datetime(2025, 3, 1, 11, 0, tzinfo=UTC)
    assert campaign.send_at.tzinfo is UTC


def test_scheduled_campaign_starts_only_at_its_time() -> None:
    campaign = _campaign(S.SCHEDULED)

    with pytest.raises(ConflictError, match="scheduled for 2025-03-01 09:00 UTC"):
        campaign.start_due(now=T0 - timedelta(seconds=1))
    campaign.start_due(now=T0)

    assert campaign.state is S.RUNNING
    assert campaign.started_at == T0
    assert campaign.events == [CampaignStarted("FC-7Q2K", T0)]


def test_stop_waits_for_calls_in_progress_then_a_launch_resumes() -> None:
    campaign = _campaign(S.WAITING)
    campaign.launch(now=T0)
    states: list[CampaignState] = []

    campaign.stop(calls_in_progress=2)
    states.append(campaign.state)
    with pytest.raises(ConflictError, match="2 call"):
        campaign.end_stop(calls_in_progress=2)
    campaign.end_stop(calls_in_progress=0)
    states.append(campaign.state)
    campaign.launch(now=T0 + timedelta(hours=1))
    states.append(campaign.state)

    assert states == [S.STOPPING, S.WAITING, S.RUNNING]
    assert campaign.started_at == T0  # the first start is the campaign's dateStart
    assert [type(event) for event in campaign.events] == [
        CampaignLaunched,
        CampaignStopping,
        CampaignStopped,
        CampaignLaunched,
    ]


def test_stop_without_calls_goes_straight_to_waiting() -> None:
    campaign = _campaign(S.SCHEDULED)

    campaign.stop(calls_in_progress=0)

    assert campaign.state is S.WAITING
    assert campaign.events == [CampaignStopping("FC-7Q2K"), CampaignStopped("FC-7Q2K")]


def test_settle_needs_every_recipient_settled_and_sets_the_outcome() -> None:
    campaign = _campaign(S.RUNNING)

    with pytest.raises(ConflictError, match="1 recipient"):
        campaign.settle(Counts(3, 1, 2, 0), now=T0)
    campaign.settle(Counts(3, 0, 2, 1), now=T0)

    assert campaign.state is S.FINISHED
    assert campaign.outcome is CampaignOutcome.PARTIAL
    assert campaign.finished_at == T0
    assert campaign.events == [CampaignFinished("FC-7Q2K", CampaignOutcome.PARTIAL, T0)]


def test_fail_is_an_error_outcome() -> None:
    campaign = _campaign(S.RUNNING)

    campaign.fail("the document cannot be sent", now=T0)

    assert (campaign.state, campaign.outcome) == (S.ERROR, CampaignOutcome.ERROR)
    assert campaign.events == [CampaignFailed("FC-7Q2K", "the document cannot be sent", T0)]


def test_delete_records_an_event_for_the_store() -> None:
    campaign = _campaign(S.FINISHED)

    campaign.delete()

    assert campaign.events == [CampaignDeleted("FC-7Q2K")]


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
    states = [RecipientState.PENDING, RecipientState.IN_CALL, RecipientState.DELIVERED]

    assert Counts.of(states) == Counts(total=3, todo=2, delivered=1, failed=0)
    assert not Counts.of(states).settled
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
    with pytest.raises(InputError, match=f"{send_at:%Y-%m-%d %H:%M} UTC is in the past") as caught:
        validate_send_at(SendType.SCHEDULED, send_at, now=T0)

    assert caught.value.field is Field.SEND_AT


@pytest.mark.parametrize(
    ("send_type", "send_at", "message"),
    [
        (SendType.SCHEDULED, None, "needs a send date"),
        (SendType.MANUAL, T0 + timedelta(hours=1), "manual campaign has no send date"),
        (SendType.SCHEDULED, datetime(2030, 1, 1, 9, 0), "no time zone"),
    ],
)
def test_send_date_must_match_the_send_type(
    send_type: SendType, send_at: datetime | None, message: str
) -> None:
    with pytest.raises(InputError, match=message) as caught:
        validate_send_at(send_type, send_at, now=T0)

    assert caught.value.field is Field.SEND_AT


def test_send_date_in_the_future_is_accepted() -> None:
    later = T0 + timedelta(seconds=1)

    assert validate_send_at(SendType.SCHEDULED, later, now=T0) == later
    assert validate_send_at(SendType.MANUAL, None, now=T0) is None


class CampaignMachine(RuleBasedStateMachine):
    """Random commands with random inputs; the aggregate must follow the table and its guards."""

    def __init__(self) -> None:
        super().__init__()
        self.now = T0
        self.campaign = _campaign(S.WAITING)
        self.deleted = False

    @initialize(
        send_type=st.sampled_from(SendType), delay_s=st.integers(min_value=1, max_value=7200)
    )
    def create(self, send_type: SendType, delay_s: int) -> None:
        scheduled = send_type is SendType.SCHEDULED
        self.campaign = Campaign.create(
            name=NAME,
            reference="FC-M",
            send_type=send_type,
            send_at=self.now + timedelta(seconds=delay_s) if scheduled else None,
            quality=Quality.HIGH,
            now=self.now,
        )

    def _attempt(self, command: Command, action: Callable[[], None], guard: bool) -> None:
        before, events = self.campaign.state, len(self.campaign.events)
        if (before, command) in EXPECTED and guard:
            action()
            assert len(self.campaign.events) > events
        else:
            with pytest.raises(ConflictError):
                action()
            assert self.campaign.state is before
            assert len(self.campaign.events) == events

    @rule(seconds=st.integers(min_value=0, max_value=7200))
    def time_passes(self, seconds: int) -> None:
        self.now += timedelta(seconds=seconds)

    @precondition(lambda self: not self.deleted)
    @rule()
    def launch(self) -> None:
        before = self.campaign.state
        self._attempt(C.LAUNCH, lambda: self.campaign.launch(now=self.now), guard=True)
        if self.campaign.state is not before:
            assert before is S.WAITING
            assert self.campaign.state is S.RUNNING

    @precondition(lambda self: not self.deleted)
    @rule()
    def start_due(self) -> None:
        due = self.campaign.send_at is not None and self.campaign.send_at <= self.now
        self._attempt(C.START_DUE, lambda: self.campaign.start_due(now=self.now), guard=due)

    @precondition(lambda self: not self.deleted)
    @rule(calls=st.integers(min_value=0, max_value=3))
    def stop(self, calls: int) -> None:
        before = self.campaign.state
        self._attempt(C.STOP, lambda: self.campaign.stop(calls_in_progress=calls), guard=True)
        if self.campaign.state is not before:
            assert self.campaign.state is (S.STOPPING if calls else S.WAITING)

    @precondition(lambda self: not self.deleted)
    @rule(calls=st.integers(min_value=0, max_value=3))
    def end_stop(self, calls: int) -> None:
        action = partial(self.campaign.end_stop, calls_in_progress=calls)
        self._attempt(C.END_STOP, action, guard=calls == 0)

    @precondition(lambda self: not self.deleted)
    @rule(
        todo=st.integers(min_value=0, max_value=2),
        delivered=st.integers(min_value=0, max_value=3),
        failed=st.integers(min_value=0, max_value=3),
    )
    def settle(self, todo: int, delivered: int, failed: int) -> None:
        counts = Counts(todo + delivered + failed, todo, delivered, failed)
        action = partial(self.campaign.settle, counts, now=self.now)
        self._attempt(C.SETTLE, action, guard=todo == 0)

    @precondition(lambda self: not self.deleted)
    @rule()
    def fail(self) -> None:
        action = partial(self.campaign.fail, "line removed", now=self.now)
        self._attempt(C.FAIL, action, guard=True)

    @precondition(lambda self: not self.deleted)
    @rule()
    def delete(self) -> None:
        before = self.campaign.state
        self._attempt(C.DELETE, self.campaign.delete, guard=True)
        self.deleted = isinstance(self.campaign.events[-1], CampaignDeleted)
        assert not self.deleted or before not in (S.RUNNING, S.STOPPING)

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
    def only_scheduled_campaigns_are_in_scheduled_state(self) -> None:
        if self.campaign.state is S.SCHEDULED:
            assert self.campaign.send_type is SendType.SCHEDULED


CampaignMachine.TestCase.settings = settings(
    max_examples=150, stateful_step_count=25, deadline=None
)
TestCampaignMachine = CampaignMachine.TestCase
