"""The delivery and retry policy of DESIGN.md: waits, limits, kill time, step-down, resume page."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from itertools import cycle, islice

import pytest
from hypothesis import given
from hypothesis import strategies as st

from faxcast.domain.outcome import FailureClass
from faxcast.domain.quality import FaxProfile, Modem, Quality, Resolution
from faxcast.domain.retry import (
    NO_STEP_DOWN,
    GiveUp,
    RecipientHistory,
    RetriesWaiting,
    Retry,
    RetryDecision,
    RetryPolicy,
    StepDown,
    call_cap_s,
    degraded_profile,
    retries_waiting,
    slowest_bps,
)

F = FailureClass
T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
NOW = T0 + timedelta(minutes=1)
POLICY = RetryPolicy()
ALMOST_ONE = math.nextafter(1.0, 0.0)
BASE_WAIT_S = {
    F.BUSY: 180.0,
    F.NO_ANSWER: 300.0,
    F.CONGESTION: 60.0,
    F.NO_FAX: 300.0,
    F.TRANSFER_FAILED: 60.0,
}
RETRYABLE = list(BASE_WAIT_S)


def _history(*failures: FailureClass, pages_each: int = 0) -> RecipientHistory:
    history = RecipientHistory()
    for failure in failures:
        history = history.after(failure, dialed_at=T0, pages_confirmed=pages_each)
    return history


def _retry(decision: RetryDecision) -> Retry:
    assert isinstance(decision, Retry), decision
    return decision


def _give_up(decision: RetryDecision) -> GiveUp:
    assert isinstance(decision, GiveUp), decision
    return decision


def _wait_s(decision: RetryDecision, now: datetime = NOW) -> float:
    return (_retry(decision).at - now).total_seconds()


@pytest.mark.parametrize("failure", RETRYABLE)
def test_each_class_waits_its_base_time_with_jitter(failure: FailureClass) -> None:
    history = _history(failure)
    base = BASE_WAIT_S[failure]

    def wait_s(rand: float) -> float:
        return _wait_s(POLICY.decide(history, failure, now=NOW, rand=rand))

    assert wait_s(0.0) == pytest.approx(base * 0.75)
    assert wait_s(0.5) == pytest.approx(base)
    assert wait_s(ALMOST_ONE) == pytest.approx(base * 1.25)
    assert POLICY.base_wait_s(failure) == base


@pytest.mark.parametrize("failure", list(FailureClass))
def test_the_policy_retries_exactly_the_retryable_classes(failure: FailureClass) -> None:
    decision = POLICY.decide(_history(failure), failure, now=NOW, rand=0.5)

    assert isinstance(decision, Retry) is failure.retryable


def test_permanent_failures_are_never_retried() -> None:
    decision = _give_up(POLICY.decide(_history(F.PERMANENT), F.PERMANENT, now=NOW, rand=0.3))

    assert "permanent" in decision.reason
    assert not decision.campaign_error
    with pytest.raises(ValueError, match="never retried"):
        POLICY.base_wait_s(F.PERMANENT)


def test_an_unusable_document_fails_the_campaign() -> None:
    decision = _give_up(POLICY.decide(_history(F.DOCUMENT), F.DOCUMENT, now=NOW, rand=0.3))

    assert decision.campaign_error
    assert "document" in decision.reason


def test_busy_and_no_answer_share_the_limit_of_12_dials() -> None:
    eleven = _history(*[F.BUSY, F.NO_ANSWER] * 5, F.BUSY)
    twelve = eleven.after(F.NO_ANSWER, dialed_at=NOW)

    assert eleven.dials == 11
    _retry(POLICY.decide(eleven, F.BUSY, now=NOW, rand=0.5))
    assert _give_up(POLICY.decide(twelve, F.NO_ANSWER, now=NOW, rand=0.5)).reason == (
        "busy or no answer after 12 dials"
    )


def test_no_fax_twice_means_not_a_fax_machine() -> None:
    _retry(POLICY.decide(_history(F.NO_FAX), F.NO_FAX, now=NOW, rand=0.5))
    decision = _give_up(POLICY.decide(_history(F.NO_FAX, F.NO_FAX), F.NO_FAX, now=NOW, rand=0.5))

    assert "not a fax machine" in decision.reason
    assert not decision.campaign_error


@pytest.mark.parametrize(
    ("quality", "tries"), [(Quality.NORMAL, 3), (Quality.HIGH, 3), (Quality.BEST, 4)]
)
def test_transfer_failures_are_limited_and_best_gets_one_more(quality: Quality, tries: int) -> None:
    policy = POLICY.for_call(quality)
    below = _history(*[F.TRANSFER_FAILED] * (tries - 1))
    at_limit = _history(*[F.TRANSFER_FAILED] * tries)

    assert policy.tries_limit == tries
    _retry(policy.decide(below, F.TRANSFER_FAILED, now=NOW, rand=0.5))
    decision = _give_up(policy.decide(at_limit, F.TRANSFER_FAILED, now=NOW, rand=0.5))
    assert decision.reason == f"transfer failed {tries} times"


def test_a_lines_limit_counts_every_call_but_congestion() -> None:
    policy = POLICY.for_call(Quality.BEST, 3)
    two = _history(F.BUSY, F.CONGESTION, F.TRANSFER_FAILED, F.CONGESTION)
    three = two.after(F.NO_FAX, dialed_at=NOW)

    _retry(policy.decide(two, F.TRANSFER_FAILED, now=NOW, rand=0.5))
    assert _give_up(policy.decide(three, F.NO_FAX, now=NOW, rand=0.5)).reason == (
        "not delivered after 3 calls (the line's limit)"
    )
    # Without a limit of its own the policy's per-class limits decide alone.
    _retry(POLICY.for_call(Quality.BEST).decide(three, F.BUSY, now=NOW, rand=0.5))


def test_congestion_counts_nothing_but_the_kill_time_applies() -> None:
    history = _history(*[F.CONGESTION] * 500)

    assert (history.dials, history.tries, history.no_fax) == (0, 0, 0)
    _retry(POLICY.decide(history, F.CONGESTION, now=NOW, rand=0.5))
    late = T0 + timedelta(hours=3) - timedelta(seconds=44)
    decision = _give_up(POLICY.decide(history, F.CONGESTION, now=late, rand=0.0))
    assert decision.reason == "not delivered within 3 h of the first dial (kill time)"


def test_kill_time_counts_from_the_first_dial() -> None:
    history = _history(F.BUSY)
    kill_at = T0 + timedelta(hours=3)

    def decide(now: datetime) -> RetryDecision:
        return POLICY.decide(history, F.BUSY, now=now, rand=0.0)  # waits 135 s

    assert _retry(decide(kill_at - timedelta(seconds=136))).at < kill_at
    assert "kill time" in _give_up(decide(kill_at - timedelta(seconds=135))).reason
    assert "kill time" in _give_up(decide(kill_at + timedelta(hours=1))).reason


def test_a_retry_dialed_after_its_due_time_adds_the_wait_to_the_history() -> None:
    first = RecipientHistory().after(F.BUSY, dialed_at=T0)
    due = T0 + timedelta(minutes=3)
    second = first.after(F.BUSY, dialed_at=due + timedelta(hours=2), due_at=due)
    on_time = second.after(F.BUSY, dialed_at=NOW, due_at=NOW)

    assert first.waited_s == 0
    assert second.waited_s == 2 * 3600
    assert on_time.waited_s == 2 * 3600
    assert second.first_dial_at == T0


def test_the_kill_time_skips_the_time_retries_waited_for_a_channel() -> None:
    # Dialed at T0, then again 4 h later after waiting 3 h 50 min behind other calls.
    due = T0 + timedelta(minutes=10)
    history = _history(F.BUSY).after(
        F.BUSY, dialed_at=due + timedelta(hours=3, minutes=50), due_at=due
    )
    now = T0 + timedelta(hours=4)

    assert _retry(POLICY.decide(history, F.BUSY, now=now, rand=0.0)).at < now + timedelta(minutes=3)
    # 3 h of eligible time later, the kill time is reached all the same.
    late = now + timedelta(hours=3) - timedelta(minutes=10) - timedelta(seconds=135)
    assert "kill time" in _give_up(POLICY.decide(history, F.BUSY, now=late, rand=0.0)).reason
    assert _retry(POLICY.decide(history, F.BUSY, now=late - timedelta(seconds=1), rand=0.0))


def test_step_down_sequence() -> None:
    assert [StepDown.after(n) for n in range(5)] == [
        StepDown(Modem.V17, ecm_toggled=False, t38_allowed=True),
        StepDown(Modem.V29, ecm_toggled=False, t38_allowed=True),
        StepDown(Modem.V29, ecm_toggled=True, t38_allowed=True),
        StepDown(Modem.V29, ecm_toggled=True, t38_allowed=False),
        StepDown(Modem.V29, ecm_toggled=True, t38_allowed=False),
    ]
    assert StepDown.after(0) == NO_STEP_DOWN


def test_retries_step_down_after_each_transfer_failure_and_keep_it() -> None:
    best = POLICY.for_call(Quality.BEST)
    steps = [
        _retry(
            best.decide(_history(*[F.TRANSFER_FAILED] * n), F.TRANSFER_FAILED, now=NOW, rand=0.5)
        ).step_down
        for n in (1, 2, 3)
    ]
    after_busy = best.decide(_history(F.TRANSFER_FAILED, F.BUSY), F.BUSY, now=NOW, rand=0.5)
    plain_busy = POLICY.decide(_history(F.BUSY), F.BUSY, now=NOW, rand=0.5)

    assert steps == [StepDown.after(1), StepDown.after(2), StepDown.after(3)]
    assert not steps[-1].t38_allowed
    assert _retry(after_busy).step_down.max_modem is Modem.V29
    assert _retry(plain_busy).step_down == NO_STEP_DOWN


def test_degraded_profile_slows_the_modem_then_toggles_ecm() -> None:
    normal = Quality.NORMAL.profile

    assert degraded_profile(normal, NO_STEP_DOWN) == normal
    assert degraded_profile(normal, StepDown.after(1)) == FaxProfile(
        Resolution.STANDARD, (Modem.V29, Modem.V27TER), ecm=True
    )
    assert degraded_profile(normal, StepDown.after(2)).ecm is False
    assert degraded_profile(Quality.BEST.profile, StepDown.after(1)) == Quality.BEST.profile


def test_degraded_profile_never_leaves_no_modem() -> None:
    only_fast = FaxProfile(Resolution.FINE, (Modem.V17,), ecm=False)

    assert degraded_profile(only_fast, StepDown.after(3)) == FaxProfile(
        Resolution.FINE, (Modem.V17,), ecm=True
    )


def test_a_retry_resumes_at_the_first_unconfirmed_page() -> None:
    once = _history(F.TRANSFER_FAILED, pages_each=3)
    twice = once.after(F.TRANSFER_FAILED, dialed_at=NOW, pages_confirmed=2)

    assert _retry(POLICY.decide(once, F.TRANSFER_FAILED, now=NOW, rand=0.5)).resume_page == 3
    assert _retry(POLICY.decide(twice, F.TRANSFER_FAILED, now=NOW, rand=0.5)).resume_page == 5
    assert twice.first_dial_at == T0


def test_history_counts_each_class_as_the_table_says() -> None:
    history = _history(F.BUSY, F.NO_ANSWER, F.CONGESTION, F.NO_FAX, F.TRANSFER_FAILED, F.PERMANENT)

    assert (history.dials, history.tries, history.no_fax) == (2, 1, 1)


def test_settings_change_the_figures() -> None:
    policy = RetryPolicy(busy_wait_s=10, max_dials=2, jitter=0.0, kill_time_s=600)

    assert _wait_s(policy.decide(_history(F.BUSY), F.BUSY, now=NOW, rand=0.9)) == 10
    assert isinstance(policy.decide(_history(F.BUSY, F.BUSY), F.BUSY, now=NOW, rand=0.9), GiveUp)
    late = policy.decide(_history(F.BUSY), F.BUSY, now=T0 + timedelta(seconds=595), rand=0.0)
    assert _give_up(late).reason == "not delivered within 10 min of the first dial (kill time)"


@pytest.mark.parametrize("rand", [-0.1, 1.0, 1.5])
def test_rand_must_be_in_the_unit_interval(rand: float) -> None:
    with pytest.raises(ValueError, match="rand"):
        POLICY.decide(_history(F.BUSY), F.BUSY, now=NOW, rand=rand)


def test_now_must_be_aware() -> None:
    with pytest.raises(ValueError, match="aware"):
        POLICY.decide(_history(F.BUSY), F.BUSY, now=datetime(2025, 3, 1), rand=0.5)


@pytest.mark.parametrize(
    "make",
    [
        lambda: RetryPolicy(jitter=1.0),
        lambda: RetryPolicy(busy_wait_s=0),
        lambda: RetryPolicy(max_tries=0),
        lambda: RetryPolicy(best_extra_tries=-1),
        lambda: RetryPolicy(max_calls=0),
    ],
)
def test_bad_settings_are_refused(make: Callable[[], RetryPolicy]) -> None:
    with pytest.raises(ValueError, match="must"):
        make()


histories = st.builds(
    RecipientHistory,
    dials=st.integers(min_value=0, max_value=15),
    tries=st.integers(min_value=0, max_value=5),
    no_fax=st.integers(min_value=0, max_value=3),
    first_dial_at=st.just(T0),
    pages_confirmed=st.integers(min_value=0, max_value=20),
    waited_s=st.floats(min_value=0, max_value=24 * 3600),
)
unit_interval = st.floats(min_value=0.0, max_value=1.0, exclude_max=True)


@given(
    history=histories,
    failure=st.sampled_from(FailureClass),
    elapsed_s=st.integers(min_value=0, max_value=4 * 3600),
    rand=unit_interval,
    quality=st.sampled_from(Quality),
)
def test_waits_stay_within_the_jitter_and_before_the_kill_time(
    history: RecipientHistory, failure: FailureClass, elapsed_s: int, rand: float, quality: Quality
) -> None:
    now = T0 + timedelta(seconds=elapsed_s)
    decision = POLICY.for_call(quality).decide(history, failure, now=now, rand=rand)

    if isinstance(decision, Retry):
        base = BASE_WAIT_S[failure]
        assert base * 0.75 - 1e-6 <= _wait_s(decision, now) <= base * 1.25 + 1e-6
        assert decision.at < T0 + timedelta(hours=3, seconds=history.waited_s)
        assert decision.resume_page == history.pages_confirmed
    else:
        assert decision.campaign_error == (failure is F.DOCUMENT)


@given(
    history=histories,
    failure=st.sampled_from(RETRYABLE),
    rands=st.tuples(unit_interval, unit_interval),
)
def test_later_rand_never_means_an_earlier_retry(
    history: RecipientHistory, failure: FailureClass, rands: tuple[float, float]
) -> None:
    low, high = sorted(rands)
    first = POLICY.decide(history, failure, now=NOW, rand=low)
    second = POLICY.decide(history, failure, now=NOW, rand=high)

    assert not (isinstance(first, GiveUp) and isinstance(second, Retry))
    if isinstance(first, Retry) and isinstance(second, Retry):
        assert first.at <= second.at


@given(
    failures=st.lists(st.sampled_from(RETRYABLE), min_size=1, max_size=8),
    rands=st.lists(unit_interval, min_size=1, max_size=8),
)
def test_a_recipient_always_gives_up_by_the_kill_time(
    failures: list[FailureClass], rands: list[float]
) -> None:
    """Every call fails in a repeating pattern and is redialled when told: it ends in time."""
    history, now = RecipientHistory(), T0
    calls = zip(cycle(failures), cycle(rands), strict=False)
    for failure, rand in islice(calls, 1000):  # 3 h of the shortest jittered wait is 240 calls
        history = history.after(failure, dialed_at=now)
        decision = POLICY.decide(history, failure, now=now, rand=rand)
        if isinstance(decision, GiveUp):
            break
        assert decision.at < T0 + timedelta(hours=3)
        now = decision.at
    else:
        pytest.fail(f"still retrying at {now} after 1000 calls")


@given(
    failures=st.lists(st.sampled_from(RETRYABLE), min_size=1, max_size=8),
    lags_s=st.lists(st.integers(min_value=0, max_value=6 * 3600), min_size=1, max_size=8),
)
def test_the_kill_time_counts_only_eligible_time_however_long_retries_wait(
    failures: list[FailureClass], lags_s: list[int]
) -> None:
    """Each retry is dialed some time after it is due: it still ends within 3 h of eligible time."""
    history, now, due_at, waited_s = RecipientHistory(), T0, None, 0
    calls = zip(cycle(failures), cycle(lags_s), strict=False)
    for failure, lag_s in islice(calls, 1000):
        history = history.after(failure, dialed_at=now, due_at=due_at)
        decision = POLICY.decide(history, failure, now=now, rand=0.5)
        if isinstance(decision, GiveUp):
            break
        assert history.waited_s == waited_s
        assert decision.at - timedelta(seconds=waited_s) < T0 + timedelta(hours=3)
        due_at, now, waited_s = (
            decision.at,
            decision.at + timedelta(seconds=lag_s),
            waited_s + lag_s,
        )
    else:
        pytest.fail(f"still retrying at {now} after 1000 calls")


# --- the watchdog -----------------------------------------------------------------------------

HEAVY_PAGE_BITS = 2_400_000  # about the corpus gradient page at fine, in its largest coding


@pytest.mark.parametrize("quality", list(Quality), ids=lambda q: q.value)
def test_the_cap_covers_a_heavy_pages_bits_at_2400_bits_per_second(quality: Quality) -> None:
    # Every quality may fall back to V.27ter at 2400 bit/s, and so may any step-down of it.
    for step in (NO_STEP_DOWN, StepDown.after(1), StepDown.after(2)):
        profile = degraded_profile(quality.profile, step)
        assert slowest_bps(profile) == 2400
        assert call_cap_s((HEAVY_PAGE_BITS,), profile) > HEAVY_PAGE_BITS / 2400 + 60


def test_the_cap_grows_with_each_pages_bits_not_with_the_page_count() -> None:
    profile = Quality.HIGH.profile
    text, photo = 100_000, HEAVY_PAGE_BITS
    assert call_cap_s((text, text), profile) < call_cap_s((photo,), profile)
    assert call_cap_s((text, photo), profile) - call_cap_s((text,), profile) == pytest.approx(
        call_cap_s((photo,), profile) - call_cap_s((), profile)
    )


def test_a_profile_without_v27ter_falls_back_no_lower_than_7200() -> None:
    profile = FaxProfile(Resolution.FINE, (Modem.V17, Modem.V29), ecm=True)
    assert slowest_bps(profile) == 7200
    assert call_cap_s((HEAVY_PAGE_BITS,), profile) < call_cap_s(
        (HEAVY_PAGE_BITS,), Quality.HIGH.profile
    )


@pytest.mark.parametrize("quality", list(Quality))
@pytest.mark.parametrize("failure", [F.BUSY, F.NO_ANSWER, F.NO_FAX, F.TRANSFER_FAILED])
def test_tries_left_is_how_many_more_calls_failing_alike_are_made(
    failure: FailureClass, quality: Quality
) -> None:
    policy = POLICY.for_call(quality)
    history = _history(failure)
    left = policy.tries_left(history, failure)
    assert left is not None
    assert left > 0
    retried = 0
    for _ in range(50):
        history = history.after(failure, dialed_at=NOW)
        if isinstance(policy.decide(history, failure, now=NOW, rand=0.5), GiveUp):
            break
        retried += 1
    assert retried == left - 1
    assert policy.tries_left(history, failure) == 0


def test_congestion_leaves_tries_uncounted_and_failures_never_retried_have_none() -> None:
    assert POLICY.tries_left(_history(F.CONGESTION), F.CONGESTION) is None
    assert POLICY.tries_left(RecipientHistory(), F.PERMANENT) == 0
    assert POLICY.tries_left(_history(F.BUSY, F.BUSY), F.BUSY) == 10


def test_retries_waiting_counts_them_with_the_next_call_and_the_last_try() -> None:
    early = _history(F.BUSY)  # first dial T0: no retry after T0 + 3 h
    late = RecipientHistory().after(F.BUSY, dialed_at=T0 + timedelta(minutes=20))
    waited = late.after(  # waited 5 min, due, for a channel: the kill time moves by as much
        F.BUSY, dialed_at=T0 + timedelta(minutes=30), due_at=T0 + timedelta(minutes=25)
    )
    summary = retries_waiting(
        POLICY,
        [
            (T0 + timedelta(minutes=9), early),
            (T0 + timedelta(minutes=7), waited),
            (T0 + timedelta(minutes=33), late),
        ],
    )

    assert summary == RetriesWaiting(
        count=3,
        next_call_at=T0 + timedelta(minutes=7),
        last_try_by=T0 + timedelta(hours=3, minutes=25),
    )
    assert summary.last_try_by == POLICY.kill_at(waited, now=NOW)
    assert retries_waiting(POLICY, []) is None


def test_no_retry_is_made_after_the_last_try_time() -> None:
    history = _history(F.BUSY)
    last_try_by = POLICY.kill_at(history, now=NOW)

    assert isinstance(POLICY.decide(history, F.BUSY, now=last_try_by, rand=0.0), GiveUp)


def test_a_lines_limit_counts_in_tries_left_as_in_the_give_up() -> None:
    policy = POLICY.for_call(Quality.HIGH, max_calls=3)
    two_calls = _history(F.BUSY, F.NO_FAX)  # calls the recipient answered for
    assert policy.tries_left(two_calls, F.BUSY) == 1  # the line's 3, not the policy's 12 dials
    assert policy.tries_left(two_calls, F.CONGESTION) is None  # congestion is ours
    three = two_calls.after(F.BUSY, dialed_at=T0)
    assert policy.tries_left(three, F.BUSY) == 0
    assert policy.tries_left(three, F.CONGESTION) == 0  # the limit, once reached, stops all
    assert isinstance(policy.decide(three, F.CONGESTION, now=NOW, rand=0.5), GiveUp)
    assert isinstance(policy.decide(two_calls, F.BUSY, now=NOW, rand=0.5), Retry)
