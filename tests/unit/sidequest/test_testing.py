"""sidequest.testing: the fake and inline adapters applications test with."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any, ClassVar

import pytest

from sidequest import SerializationError, UnknownJobError, retry_on, testing
from sidequest.job import Job, registry
from sidequest.testing import FakeAdapter

exhausted: list[BaseException] = []


class DrainLeafJob(Job):
    performed: ClassVar[list[Any]] = []

    def perform(self, value: Any) -> None:
        DrainLeafJob.performed.append(value)


class DrainFanOutJob(Job):
    def perform(self, count: int) -> None:
        for n in range(count):
            DrainLeafJob.perform_later(n)
        DrainLeafJob.perform_in(3600, "later")


class DrainJidJob(Job):
    seen: ClassVar[list[str]] = []

    def perform(self) -> None:
        DrainJidJob.seen.append(self.jid)


@retry_on(ValueError, wait=0, attempts=3, on_exhausted=lambda job, error: exhausted.append(error))
class DrainRetryingJob(Job):
    runs: ClassVar[int] = 0

    def perform(self) -> None:
        DrainRetryingJob.runs += 1
        raise ValueError(f"attempt {DrainRetryingJob.runs}")


class DrainForeverJob(Job):
    def perform(self) -> None:
        DrainForeverJob.perform_later()


class DrainBrokenJob(Job):
    def perform(self) -> None:
        raise RuntimeError("broken")


class InlineMutatingJob(Job):
    received: ClassVar[list[Any]] = []

    def perform(self, data: dict[str, Any]) -> None:
        InlineMutatingJob.received.append(data)
        data["touched"] = True


class InlineChainJob(Job):
    def perform(self, n: int) -> None:
        DrainLeafJob.perform_later(n * 10)


@pytest.fixture(autouse=True)
def _clear() -> None:
    DrainLeafJob.performed.clear()
    DrainJidJob.seen.clear()
    DrainRetryingJob.runs = 0
    InlineMutatingJob.received.clear()
    exhausted.clear()


def test_drain_performs_enqueued_jobs_in_order(jobs: FakeAdapter) -> None:
    DrainLeafJob.perform_later("a")
    DrainLeafJob.perform_later("b")
    assert DrainLeafJob.performed == []
    assert jobs.drain() == 2
    assert DrainLeafJob.performed == ["a", "b"]
    assert jobs.jobs == []


def test_drain_performs_jobs_enqueued_while_draining_scheduled_ones_too(
    jobs: FakeAdapter,
) -> None:
    DrainFanOutJob.perform_later(3)
    assert jobs.drain() == 5
    assert DrainLeafJob.performed == [0, 1, 2, "later"]


def test_drain_performs_the_job_under_its_enqueued_jid(jobs: FakeAdapter) -> None:
    job = DrainJidJob.perform_later()
    jobs.drain()
    assert DrainJidJob.seen == [job.jid]


def test_drain_exhausts_retry_on_attempts(jobs: FakeAdapter) -> None:
    DrainRetryingJob.perform_later()
    # attempts=3: three executions, then on_exhausted. The retry's exception_executions
    # must survive the trip through the fake adapter for the count to advance.
    assert jobs.drain(max_jobs=50) == 3
    assert DrainRetryingJob.runs == 3
    assert [str(error) for error in exhausted] == ["attempt 3"]


def test_drain_stops_a_job_that_enqueues_forever(jobs: FakeAdapter) -> None:
    DrainForeverJob.perform_later()
    with pytest.raises(AssertionError, match="drain stopped after 25 jobs"):
        jobs.drain(max_jobs=25)


def test_drain_lets_errors_without_a_rule_propagate(jobs: FakeAdapter) -> None:
    DrainBrokenJob.perform_later()
    with pytest.raises(RuntimeError, match="broken"):
        jobs.drain()


def test_drain_of_an_unknown_class_raises_unknown_job_error(jobs: FakeAdapter) -> None:
    jobs.push({"class": "NoSuchDrainJob", "args": [], "jid": "a" * 24, "queue": "default"})
    with pytest.raises(UnknownJobError):
        jobs.drain()


def test_assert_enqueued_returns_the_matching_jobs(jobs: FakeAdapter) -> None:
    DrainLeafJob.perform_later(1)
    DrainLeafJob.set(queue="other").perform_later(2)
    matches = jobs.assert_enqueued(DrainLeafJob, args=[1])
    assert [entry.args for entry in matches] == [[1]]
    assert len(jobs.assert_enqueued(DrainLeafJob, count=2)) == 2
    assert len(jobs.assert_enqueued("DrainLeafJob", queue="other", count=1)) == 1


def test_assert_enqueued_fails_listing_what_was_enqueued(jobs: FakeAdapter) -> None:
    DrainLeafJob.perform_later(1)
    with pytest.raises(AssertionError) as raised:
        jobs.assert_enqueued(DrainLeafJob, args=[2])
    message = str(raised.value)
    assert "args=[2]" in message
    assert "('DrainLeafJob', [1], 'default')" in message


def test_assert_enqueued_fails_on_a_wrong_count(jobs: FakeAdapter) -> None:
    DrainLeafJob.perform_later(1)
    with pytest.raises(AssertionError, match="expected 2"):
        jobs.assert_enqueued(DrainLeafJob, count=2)
    with pytest.raises(AssertionError, match="queue=mailers"):
        jobs.assert_enqueued(DrainLeafJob, queue="mailers")


def test_assert_enqueued_with_count_zero_passes_when_nothing_matches(jobs: FakeAdapter) -> None:
    assert jobs.assert_enqueued(DrainLeafJob, count=0) == []


def test_assert_nothing_enqueued(jobs: FakeAdapter) -> None:
    jobs.assert_nothing_enqueued()
    DrainLeafJob.perform_later(1)
    with pytest.raises(AssertionError, match="DrainLeafJob"):
        jobs.assert_nothing_enqueued()


def test_enqueued_filters_by_class_and_queue(jobs: FakeAdapter) -> None:
    DrainLeafJob.perform_later(1)
    DrainJidJob.set(queue="q").perform_later()
    assert [entry.job_class for entry in jobs.enqueued()] == ["DrainLeafJob", "DrainJidJob"]
    assert [entry.job_class for entry in jobs.enqueued(queue="q")] == ["DrainJidJob"]
    assert [entry.job_class for entry in jobs.enqueued(DrainLeafJob)] == ["DrainLeafJob"]


def test_clear_forgets_jobs_and_unique_locks(jobs: FakeAdapter) -> None:
    DrainLeafJob.perform_later(1)
    jobs.clear()
    assert jobs.jobs == []


def test_fake_restores_the_previous_adapter_afterwards() -> None:
    with testing.fake() as outer:
        with testing.fake() as inner:
            DrainLeafJob.perform_later("inner")
        DrainLeafJob.perform_later("outer")
    assert [entry.args for entry in inner.jobs] == [["inner"]]
    assert [entry.args for entry in outer.jobs] == [["outer"]]


def test_the_fake_keeps_the_scheduled_time(jobs: FakeAdapter) -> None:
    before = time.time()
    DrainLeafJob.perform_in(120, 1)
    at = jobs.jobs[0].at
    assert at is not None
    assert before + 120 <= at <= time.time() + 120


def test_inline_performs_at_once() -> None:
    with testing.inline():
        job = DrainLeafJob.perform_later("now")
        assert DrainLeafJob.performed == ["now"]
    assert job.successfully_enqueued is True


def test_inline_performs_what_jobs_enqueue_too() -> None:
    with testing.inline():
        InlineChainJob.perform_later(4)
    assert DrainLeafJob.performed == [40]


def test_inline_performs_bulk_enqueues() -> None:
    with testing.inline():
        DrainLeafJob.perform_bulk([[1], [2]])
    assert DrainLeafJob.performed == [1, 2]


def test_inline_hands_perform_a_json_copy_of_the_arguments() -> None:
    original: dict[str, Any] = {"ids": [1, 2], "name": "x"}
    with testing.inline():
        InlineMutatingJob.perform_later(original)
    [received] = InlineMutatingJob.received
    assert received is not original
    assert received == {"ids": [1, 2], "name": "x", "touched": True}
    assert original == {"ids": [1, 2], "name": "x"}


def test_inline_refuses_a_non_json_argument() -> None:
    with testing.inline(), pytest.raises(SerializationError):
        DrainLeafJob.perform_later(datetime.now(UTC))
    assert DrainLeafJob.performed == []


def test_drain_performs_the_class_that_enqueued_a_job_even_when_its_name_was_taken() -> None:
    class NameTakenJob(Job):
        job_name = "NameTakenEnqueuerJob"
        runs: ClassVar[list[str]] = []

        def perform(self) -> None:
            NameTakenJob.runs.append("original")

    with testing.fake() as jobs:
        NameTakenJob.perform_later()

        class ImpostorJob(Job):  # takes the name in the registry: last definition wins
            job_name = "NameTakenEnqueuerJob"

            def perform(self) -> None:
                NameTakenJob.runs.append("impostor")

        assert registry.resolve("NameTakenEnqueuerJob") is ImpostorJob
        jobs.drain()
    assert NameTakenJob.runs == ["original"]


class FlakyInlineError(Exception):
    pass


@retry_on(FlakyInlineError, attempts=3, wait=60)
class AlwaysFailingInlineJob(Job):
    runs: ClassVar[int] = 0

    def perform(self) -> None:
        AlwaysFailingInlineJob.runs += 1
        raise FlakyInlineError(f"run {AlwaysFailingInlineJob.runs}")


def test_inline_runs_retries_at_once_and_raises_once_the_attempts_run_out() -> None:
    AlwaysFailingInlineJob.runs = 0
    started = time.monotonic()
    with testing.inline(), pytest.raises(FlakyInlineError, match="run 3"):
        AlwaysFailingInlineJob.perform_later()
    assert AlwaysFailingInlineJob.runs == 3
    assert time.monotonic() - started < 5, "the retries' 60 s wait is skipped"
