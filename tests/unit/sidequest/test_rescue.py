"""rescue.decide: retry_on, discard_on and Sidekiq's default policy, as plain decisions."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

import pytest

from sidequest import DeserializationError, Job, discard_on, retry_on
from sidequest.job import rescue
from sidequest.job.rescue import Dead, Discard, FailureState, Retry, RetryRule, decide


class RescueNetworkError(Exception):
    pass


class RescueFlakyError(RescueNetworkError):
    pass


exhausted_calls: list[tuple[Any, BaseException]] = []


def _note_exhausted(job: Any, error: BaseException) -> None:
    exhausted_calls.append((job, error))


@retry_on(TimeoutError, ConnectionError, wait="polynomially_longer", attempts=5)
@discard_on(DeserializationError)
class RescueReportJob(Job):
    def perform(self, report_id: int) -> None:
        pass


@retry_on(ValueError, wait=10, attempts=3, queue="retries")
@retry_on(KeyError, wait=timedelta(minutes=1), attempts="unlimited")
@retry_on(LookupError, wait=lambda executions: executions * 100, attempts=4)
class RescueCountingJob(Job):
    def perform(self) -> None:
        pass


@retry_on(RuntimeError, attempts=2, on_exhausted=_note_exhausted)
class RescueExhaustedCallbackJob(Job):
    def perform(self) -> None:
        pass


@discard_on(RescueFlakyError)
@retry_on(RescueNetworkError, wait=1, attempts=3)
class RescueOrderJob(Job):
    def perform(self) -> None:
        pass


@retry_on(RescueNetworkError, wait=1, attempts=3)
@discard_on(RescueFlakyError)
class RescueRetryFirstJob(Job):
    """The broader retry rule is written first: it wins over the narrower discard."""

    def perform(self) -> None:
        pass


@discard_on(ValueError)
class RescueParentJob(Job):
    def perform(self) -> None:
        pass


@retry_on(ValueError, wait=5, attempts=2)
class RescueChildJob(RescueParentJob):
    pass


class RescueInheritsJob(RescueParentJob):
    pass


class RescuePlainJob(Job):
    def perform(self) -> None:
        pass


def _state(
    retry_count: int | None = None,
    executions: dict[str, int] | None = None,
    *,
    dead_allowed: bool = True,
) -> FailureState:
    return FailureState(retry_count, dict(executions or {}), dead_allowed)


def test_retry_on_matches_each_of_several_exceptions() -> None:
    for error in (TimeoutError("t"), ConnectionError("c"), ConnectionRefusedError("r")):
        decision = decide(RescueReportJob, error, _state(), True)
        assert isinstance(decision, Retry), error


def test_an_exception_no_rule_names_falls_to_the_default_policy() -> None:
    decision = decide(RescueReportJob, ZeroDivisionError(), _state(), True)
    assert isinstance(decision, Retry)
    assert decision.rule_key is None


def test_discard_on_drops_the_job_without_retry() -> None:
    decision = decide(RescueReportJob, DeserializationError("gone"), _state(), True)
    assert isinstance(decision, Discard)
    assert decision.by_rule is True
    assert "discard_on" in decision.reason


def test_discard_on_passes_its_callback_along() -> None:
    def forget(job: Any, error: BaseException) -> None:
        pass

    @discard_on(KeyError, on_discard=forget)
    class RescueDiscardCallbackJob(Job):
        pass

    decision = decide(RescueDiscardCallbackJob, KeyError("k"), _state(), True)
    assert isinstance(decision, Discard)
    assert decision.callback is forget


@pytest.mark.parametrize("executions", [1, 2, 3, 4])
def test_polynomially_longer_waits_executions_to_the_fourth_plus_two_with_jitter(
    executions: int,
) -> None:
    rule = RetryRule((TimeoutError,), wait="polynomially_longer")
    base = executions**4 + 2
    delays = [rescue.rule_delay(rule, executions, TimeoutError()) for _ in range(300)]
    assert all(base <= delay <= base + executions**4 * 0.15 for delay in delays)
    # the jitter is random, not a constant
    assert len(set(delays)) > 1


def test_polynomially_longer_with_a_seeded_random_is_reproducible() -> None:
    rule = RetryRule((TimeoutError,), wait="polynomially_longer")
    first = rescue.rule_delay(rule, 3, TimeoutError(), random.Random(5))
    second = rescue.rule_delay(rule, 3, TimeoutError(), random.Random(5))
    assert first == second
    assert first == 81 + random.Random(5).random() * 81 * 0.15 + 2


def test_decide_uses_the_execution_count_of_the_rule_for_the_delay() -> None:
    key = RetryRule((TimeoutError, ConnectionError)).key
    decision = decide(RescueReportJob, TimeoutError(), _state(2, {key: 2}), True)
    assert isinstance(decision, Retry)
    assert decision.executions == 3
    assert 83 <= decision.delay <= 83 + 81 * 0.15


def test_numeric_wait_adds_up_to_fifteen_percent_of_jitter() -> None:
    rule = RetryRule((ValueError,), wait=10)
    delays = [rescue.rule_delay(rule, 1, ValueError()) for _ in range(300)]
    assert all(10 <= delay <= 11.5 for delay in delays)
    assert max(delays) > 10.5


def test_timedelta_wait_is_read_as_seconds_with_jitter() -> None:
    rule = RetryRule((KeyError,), wait=timedelta(minutes=1))
    delays = [rescue.rule_delay(rule, 4, KeyError()) for _ in range(300)]
    assert all(60 <= delay <= 69 for delay in delays)


def test_jitter_zero_gives_the_exact_wait() -> None:
    rule = RetryRule((ValueError,), wait=timedelta(seconds=42), jitter=0)
    assert rescue.rule_delay(rule, 1, ValueError()) == 42.0


def test_a_callable_wait_with_one_parameter_gets_the_execution_count() -> None:
    rule = RetryRule((ValueError,), wait=lambda executions: executions * 7, jitter=0)
    assert rescue.rule_delay(rule, 3, ValueError()) == 21.0


def test_a_callable_wait_with_two_parameters_also_gets_the_error() -> None:
    seen: list[BaseException] = []

    def wait(executions: int, error: BaseException) -> timedelta:
        seen.append(error)
        return timedelta(seconds=executions + (100 if isinstance(error, KeyError) else 0))

    rule = RetryRule((LookupError,), wait=wait, jitter=0)
    error = KeyError("k")
    assert rescue.rule_delay(rule, 2, error) == 102.0
    assert seen == [error]


def test_a_callable_wait_through_decide_stays_within_its_jitter() -> None:
    key = RetryRule((LookupError,)).key
    decision = decide(RescueCountingJob, IndexError(), _state(0, {key: 1}), True)
    assert isinstance(decision, Retry)
    assert 200 <= decision.delay <= 230


def test_an_invalid_wait_is_a_type_error() -> None:
    rule = RetryRule((ValueError,), wait="exponentially_longer")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="wait"):
        rescue.rule_delay(rule, 1, ValueError())


def test_attempts_count_the_first_run_per_rule() -> None:
    key = RetryRule((ValueError,)).key
    first = decide(RescueCountingJob, ValueError(), _state(), True)
    assert isinstance(first, Retry)
    assert first.rule_key == key
    assert first.executions == 1
    second = decide(RescueCountingJob, ValueError(), _state(0, {key: 1}), True)
    assert isinstance(second, Retry)
    assert second.executions == 2
    third = decide(RescueCountingJob, ValueError(), _state(1, {key: 2}), True)
    assert isinstance(third, Dead)
    assert "attempts (3)" in third.reason


def test_each_rule_counts_its_own_executions() -> None:
    value_key = RetryRule((ValueError,)).key
    lookup_key = RetryRule((LookupError,)).key
    # Two ValueError attempts used up do not count against the LookupError rule.
    state = _state(5, {value_key: 2, lookup_key: 1})
    decision = decide(RescueCountingJob, IndexError(), state, True)
    assert isinstance(decision, Retry)
    assert decision.rule_key == lookup_key
    assert decision.executions == 2
    assert isinstance(decide(RescueCountingJob, ValueError(), state, True), Dead)


def test_rule_keys_name_the_exceptions_sorted_and_qualified() -> None:
    assert RetryRule((TimeoutError, ConnectionError)).key == "[ConnectionError,TimeoutError]"
    assert RetryRule((RescueNetworkError,)).key == f"[{__name__}.RescueNetworkError]"


def test_unlimited_attempts_never_run_out() -> None:
    key = RetryRule((KeyError,)).key
    decision = decide(RescueCountingJob, KeyError(), _state(10_000, {key: 10_000}), True)
    assert isinstance(decision, Retry)
    assert decision.executions == 10_001


def test_the_retry_carries_the_rules_queue_and_the_next_retry_count() -> None:
    decision = decide(RescueCountingJob, ValueError(), _state(), True)
    assert isinstance(decision, Retry)
    assert decision.queue == "retries"
    assert decision.retry_count == 0
    later = decide(RescueCountingJob, ValueError(), _state(4, {"[ValueError]": 1}), True)
    assert isinstance(later, Retry)
    assert later.retry_count == 5


def test_a_rule_without_queue_leaves_the_retry_on_the_jobs_queue() -> None:
    decision = decide(RescueReportJob, TimeoutError(), _state(), True)
    assert isinstance(decision, Retry)
    assert decision.queue is None


def test_exhausted_attempts_with_a_callback_discard_through_it() -> None:
    key = RetryRule((RuntimeError,)).key
    decision = decide(RescueExhaustedCallbackJob, RuntimeError(), _state(0, {key: 1}), True)
    assert isinstance(decision, Discard)
    assert decision.callback is _note_exhausted
    assert decision.by_rule is True


def test_exhausted_attempts_without_a_callback_go_to_the_dead_set() -> None:
    key = RetryRule((TimeoutError, ConnectionError)).key
    decision = decide(RescueReportJob, TimeoutError(), _state(3, {key: 4}), True)
    assert isinstance(decision, Dead)


def test_exhausted_attempts_of_a_dead_false_job_are_discarded() -> None:
    key = RetryRule((TimeoutError, ConnectionError)).key
    decision = decide(
        RescueReportJob, TimeoutError(), _state(3, {key: 4}, dead_allowed=False), True
    )
    assert isinstance(decision, Discard)
    assert decision.by_rule is False


def test_rules_are_checked_top_decorator_first() -> None:
    # RescueOrderJob: discard_on(RescueFlakyError) is written above retry_on(RescueNetworkError).
    assert isinstance(decide(RescueOrderJob, RescueFlakyError(), _state(), True), Discard)
    assert isinstance(decide(RescueOrderJob, RescueNetworkError(), _state(), True), Retry)
    # RescueRetryFirstJob: the retry rule comes first, so it catches the subclass too.
    assert isinstance(decide(RescueRetryFirstJob, RescueFlakyError(), _state(), True), Retry)
    assert [type(rule) for rule in rescue.rules_of(RescueRetryFirstJob)] == [
        rescue.RetryRule,
        rescue.DiscardRule,
    ]


def test_rules_in_reading_order() -> None:
    kinds = [rule.exceptions for rule in rescue.rules_of(RescueCountingJob)]
    assert kinds == [(ValueError,), (KeyError,), (LookupError,)]


def test_a_subclass_rule_wins_over_a_base_class_rule() -> None:
    assert isinstance(decide(RescueChildJob, ValueError(), _state(), True), Retry)
    assert isinstance(decide(RescueParentJob, ValueError(), _state(), True), Discard)


def test_base_class_rules_apply_to_subclasses() -> None:
    assert isinstance(decide(RescueInheritsJob, ValueError(), _state(), True), Discard)
    assert len(rescue.rules_of(RescueChildJob)) == 2
    assert len(rescue.rules_of(RescueParentJob)) == 1


def test_retry_on_and_discard_on_need_an_exception() -> None:
    with pytest.raises(TypeError):
        retry_on()
    with pytest.raises(TypeError):
        discard_on()


@pytest.mark.parametrize("count", [0, 1, 5, 10, 24])
def test_sidekiq_delay_is_count_to_the_fourth_plus_15_plus_rand10_times_count_plus_1(
    count: int,
) -> None:
    rng = random.Random(count)
    expected_rng = random.Random(count)
    for _ in range(50):
        delay = rescue.sidekiq_delay(count, rng)
        assert delay == count**4 + 15 + expected_rng.randrange(10) * (count + 1)


def test_sidekiq_delay_jitter_covers_its_whole_range() -> None:
    rng = random.Random(1234)
    delays = {rescue.sidekiq_delay(0, rng) for _ in range(500)}
    assert delays == {float(15 + n) for n in range(10)}
    delays = {rescue.sidekiq_delay(2, rng) for _ in range(500)}
    assert delays == {float(16 + 15 + n * 3) for n in range(10)}


def test_sidekiq_delay_of_a_count_no_float_can_hold_is_still_a_number() -> None:
    # A payload may carry any retry_count; an unknown class's failure reads it (issue 22).
    assert 10_000**4 <= rescue.sidekiq_delay(10**400) < float("inf")


def test_default_policy_first_failure_retries_with_sidekiq_backoff() -> None:
    decision = decide(RescuePlainJob, ValueError(), _state(), True)
    assert isinstance(decision, Retry)
    assert decision.retry_count == 0
    assert 15 <= decision.delay <= 24
    assert decision.rule_key is None
    assert decision.queue is None


def test_default_policy_later_failures_use_the_incremented_count() -> None:
    decision = decide(RescuePlainJob, ValueError(), _state(4), True)
    assert isinstance(decision, Retry)
    assert decision.retry_count == 5
    base = 5**4 + 15
    assert base <= decision.delay <= base + 9 * 6
    assert (decision.delay - base) % 6 == 0


def test_retry_true_allows_25_retries_then_the_dead_set() -> None:
    last = decide(RescuePlainJob, ValueError(), _state(23), True)
    assert isinstance(last, Retry)
    assert last.retry_count == 24
    dead = decide(RescuePlainJob, ValueError(), _state(24), True)
    assert isinstance(dead, Dead)
    assert "25" in dead.reason


def test_retry_true_honours_a_configured_max_retries() -> None:
    assert isinstance(decide(RescuePlainJob, ValueError(), _state(1), True, max_retries=3), Retry)
    assert isinstance(decide(RescuePlainJob, ValueError(), _state(2), True, max_retries=3), Dead)


def test_retry_n_allows_n_retries() -> None:
    assert isinstance(decide(RescuePlainJob, ValueError(), _state(), 2), Retry)
    assert isinstance(decide(RescuePlainJob, ValueError(), _state(0), 2), Retry)
    assert isinstance(decide(RescuePlainJob, ValueError(), _state(1), 2), Dead)


def test_retry_zero_goes_to_the_dead_set_at_once() -> None:
    decision = decide(RescuePlainJob, ValueError(), _state(), 0)
    assert isinstance(decision, Dead)


def test_retry_false_discards_without_a_dead_entry() -> None:
    decision = decide(RescuePlainJob, ValueError(), _state(), False)
    assert isinstance(decision, Discard)
    assert decision.by_rule is False


def test_default_policy_exhausted_with_dead_false_discards() -> None:
    decision = decide(RescuePlainJob, ValueError(), _state(24, dead_allowed=False), True)
    assert isinstance(decision, Discard)
    assert isinstance(decide(RescuePlainJob, ValueError(), _state(dead_allowed=False), 0), Discard)


def test_a_retry_on_rule_applies_even_when_the_class_disables_default_retries() -> None:
    @retry_on(ValueError, attempts=3)
    class RescueNoDefaultRetryJob(Job):
        retry = False

    decision = decide(RescueNoDefaultRetryJob, ValueError(), _state(), False)
    assert isinstance(decision, Retry)
    assert isinstance(decide(RescueNoDefaultRetryJob, KeyError(), _state(), False), Discard)


def test_error_class_names_are_bare_for_builtins_and_qualified_otherwise() -> None:
    assert rescue.error_class_name(ValueError()) == "ValueError"
    assert rescue.error_class_name(RescueNetworkError()) == f"{__name__}.RescueNetworkError"


def _windowed(retry_count: int | None, failed_at: float | None, window: float) -> FailureState:
    return FailureState(retry_count, {}, True, retry_for=window, failed_at=failed_at)


def test_retry_for_retries_past_the_retry_count_while_the_window_is_open() -> None:
    now = 1_800_000_000.0
    # Far more failures than `retry: 2` allows, but only an hour into a day's window.
    decision = decide(RescuePlainJob, ValueError(), _windowed(40, now - 3600, 86400), 2, now=now)
    assert isinstance(decision, Retry)
    assert decision.retry_count == 41
    assert decision.delay >= 41**4 + 15, "the backoff still grows with the count"


def test_retry_for_buries_the_job_once_the_window_since_the_first_failure_passed() -> None:
    now = 1_800_000_000.0
    decision = decide(RescuePlainJob, ValueError(), _windowed(3, now - 86401, 86400), True, now=now)
    assert isinstance(decision, Dead)
    assert "retry_for" in decision.reason and "86400" in decision.reason
    edge = decide(RescuePlainJob, ValueError(), _windowed(3, now - 86400, 86400), True, now=now)
    assert isinstance(edge, Retry), "the window's last second still retries, as in Sidekiq"


def test_retry_for_opens_its_window_at_the_first_failure() -> None:
    decision = decide(RescuePlainJob, ValueError(), _windowed(None, None, 0), True, now=5.0)
    assert isinstance(decision, Retry)
    assert decision.retry_count == 0


def test_retry_false_still_discards_a_job_with_retry_for() -> None:
    decision = decide(RescuePlainJob, ValueError(), _windowed(None, None, 60), False, now=5.0)
    assert isinstance(decision, Discard)


def test_retry_for_past_its_window_with_dead_false_discards() -> None:
    state = FailureState(2, {}, False, retry_for=10, failed_at=0.0)
    assert isinstance(decide(RescuePlainJob, ValueError(), state, True, now=100.0), Discard)
