"""perform_now: inline execution with callbacks, retry_on and discard_on."""

from __future__ import annotations

import time
from typing import Any, ClassVar

import pytest

from sidequest import DeserializationError, Job, before_perform, discard_on, retry_on
from sidequest.job.base import failure_state
from sidequest.job.rescue import FailureState
from sidequest.testing import FakeAdapter

discarded: list[tuple[Any, BaseException]] = []
exhausted: list[tuple[Any, BaseException]] = []


class NowComputeJob(Job):
    log: ClassVar[list[str]] = []

    @before_perform
    def mark(self) -> None:
        self.log.append(f"before {self.args}")

    def perform(self, a: int, b: int) -> int:
        self.log.append("perform")
        return a + b


@discard_on(DeserializationError, on_discard=lambda job, error: discarded.append((job, error)))
class NowDiscardJob(Job):
    def perform(self, record_id: int) -> None:
        raise DeserializationError(f"record {record_id} is gone")


@retry_on(ConnectionError, wait=30, attempts=3, queue="retries")
class NowRetryJob(Job):
    def perform(self, record_id: int) -> None:
        raise ConnectionError("unreachable")


@retry_on(ConnectionError, wait=30, attempts=2)
class NowRetryOwnQueueJob(Job):
    queue = "imports"

    def perform(self) -> None:
        raise ConnectionError("unreachable")


@retry_on(TimeoutError, wait=1, attempts=1, on_exhausted=lambda j, e: exhausted.append((j, e)))
class NowExhaustedJob(Job):
    def perform(self) -> None:
        raise TimeoutError("slow")


class NowFailingJob(Job):
    def perform(self) -> None:
        raise ValueError("no rule for me")


class NowNoRetryJob(Job):
    retry = False

    def perform(self) -> None:
        raise ValueError("not retried, still visible")


@pytest.fixture(autouse=True)
def _clear() -> None:
    NowComputeJob.log.clear()
    discarded.clear()
    exhausted.clear()


def test_perform_now_returns_what_perform_returns_and_runs_callbacks() -> None:
    assert NowComputeJob.perform_now(2, 3) == 5
    assert NowComputeJob.log == ["before [2, 3]", "perform"]


def test_perform_now_does_not_need_an_adapter_or_enqueue_anything(jobs: FakeAdapter) -> None:
    NowComputeJob.perform_now(1, 1)
    assert jobs.jobs == []


def test_discard_on_swallows_the_error_and_calls_its_callback() -> None:
    assert NowDiscardJob.perform_now(9) is None
    [(job, error)] = discarded
    assert isinstance(job, NowDiscardJob)
    assert job.args == [9]
    assert isinstance(error, DeserializationError)


def test_retry_on_enqueues_a_retry_through_the_adapter(jobs: FakeAdapter) -> None:
    before = time.time()
    assert NowRetryJob.perform_now(5) is None
    [retry] = jobs.jobs
    assert retry.job_class == "NowRetryJob"
    assert retry.args == [5]
    assert retry.queue == "retries"
    assert retry.payload["exception_executions"] == {"[ConnectionError]": 1}
    assert retry.at is not None
    assert before + 30 <= retry.at <= time.time() + 30 * 1.15


def test_a_retry_without_a_rule_queue_stays_on_the_jobs_queue(jobs: FakeAdapter) -> None:
    NowRetryOwnQueueJob.perform_now()
    assert jobs.jobs[0].queue == "imports"


def test_a_retry_set_on_another_queue_stays_there(jobs: FakeAdapter) -> None:
    NowRetryOwnQueueJob.set(queue="manual").perform_now()
    assert jobs.jobs[0].queue == "manual"


def test_retry_on_exhausted_calls_the_callback_and_swallows(jobs: FakeAdapter) -> None:
    assert NowExhaustedJob.perform_now() is None
    [(job, error)] = exhausted
    assert isinstance(job, NowExhaustedJob)
    assert isinstance(error, TimeoutError)
    assert jobs.jobs == []


def test_errors_without_a_rule_raise(jobs: FakeAdapter) -> None:
    with pytest.raises(ValueError, match="no rule for me"):
        NowFailingJob.perform_now()
    assert jobs.jobs == []


def test_errors_of_a_retry_false_job_raise_too() -> None:
    with pytest.raises(ValueError, match="still visible"):
        NowNoRetryJob.perform_now()


def test_perform_now_skips_the_json_check_as_activejob_does() -> None:
    marker = object()

    class NowObjectJob(Job):
        def perform(self, thing: object) -> object:
            return thing

    assert NowObjectJob.perform_now(marker) is marker


def test_failure_state_reads_earlier_failures_from_a_payload() -> None:
    state = failure_state(
        {"retry_count": 2, "exception_executions": {"[ValueError]": 3, "bad": "x"}, "dead": False}
    )
    assert state == FailureState(2, {"[ValueError]": 3}, dead_allowed=False)
    assert failure_state({}) == FailureState(None, {}, dead_allowed=True)
    assert failure_state({"retry_count": True}).retry_count is None


def test_failure_state_reads_retry_for_and_the_first_failure_in_either_timestamp_form() -> None:
    seconds = failure_state({"retry_for": 3600, "failed_at": 1_700_000_000.5})
    assert (seconds.retry_for, seconds.failed_at) == (3600.0, 1_700_000_000.5)
    # Sidekiq 8 writes integer milliseconds.
    assert failure_state({"retry_for": 60, "failed_at": 1_700_000_000_500}).failed_at == (
        1_700_000_000.5
    )
    assert failure_state({"retry_for": "1h"}).retry_for is None
    assert failure_state({"retry_for": True}).retry_for is None
    assert failure_state({"retry_for": 10**400}).retry_for is None  # no float holds it


def test_executions_count_the_current_run() -> None:
    job = NowComputeJob.from_payload({"jid": "a" * 24, "queue": "q"}, [1, 2])
    assert job.retry_count is None
    assert job.executions == 1
    job = NowComputeJob.from_payload({"jid": "a" * 24, "retry_count": 0}, [1, 2])
    assert job.retry_count == 0
    assert job.executions == 2
    assert job.jid == "a" * 24
    assert job.args == [1, 2]
