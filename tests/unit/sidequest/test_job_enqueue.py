"""The job API's enqueue side, against the fake adapter: perform_later and friends."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import pytest

from sidequest import (
    ArgumentMismatchError,
    ConfigError,
    ConfiguredJob,
    Job,
    SerializationError,
    adapter,
    before_enqueue,
)
from sidequest.job import registry
from sidequest.testing import FakeAdapter

HEX24 = re.compile(r"[0-9a-f]{24}")


class EnqueueReportJob(Job):
    def perform(self, report_id: int) -> None:
        pass


class EnqueueCriticalJob(Job):
    queue = "critical"
    retry = 3
    retry_queue = "slow-retries"
    dead = False

    def perform(self, *values: Any) -> None:
        pass


class EnqueueOptionalArgsJob(Job):
    def perform(self, first: int, second: int = 2) -> None:
        pass


class EnqueueNoRetryJob(Job):
    retry = False

    def perform(self) -> None:
        pass


class EnqueueUniqueJob(Job):
    unique_for = timedelta(hours=1)

    def perform(self, report_id: int) -> None:
        pass


class EnqueueBulkJob(Job):
    enqueue_callbacks: ClassVar[list[list[Any]]] = []

    @before_enqueue
    def note(self) -> None:
        EnqueueBulkJob.enqueue_callbacks.append(self.args)

    def perform(self, n: int) -> None:
        pass


class EnqueueUniqueBulkJob(Job):
    unique_for = 600
    enqueue_callbacks: ClassVar[list[list[Any]]] = []

    @before_enqueue
    def note(self) -> None:
        EnqueueUniqueBulkJob.enqueue_callbacks.append(self.args)

    def perform(self, n: int) -> None:
        pass


class EnqueueRenamedJob(Job):
    job_name = "Legacy::RenamedJob"

    def perform(self) -> None:
        pass


def test_perform_later_enqueues_a_sidekiq_payload(jobs: FakeAdapter) -> None:
    before = time.time()
    job = EnqueueReportJob.perform_later(42)
    [entry] = jobs.jobs
    assert entry.payload["class"] == "EnqueueReportJob"
    assert entry.payload["args"] == [42]
    assert entry.payload["queue"] == "default"
    assert entry.payload["retry"] is True
    assert entry.payload["jid"] == job.jid
    assert HEX24.fullmatch(job.jid)
    assert before <= entry.payload["created_at"] <= time.time()
    assert entry.at is None


def test_perform_later_returns_the_enqueued_job(jobs: FakeAdapter) -> None:
    job = EnqueueReportJob.perform_later(42)
    assert isinstance(job, EnqueueReportJob)
    assert job.successfully_enqueued is True
    assert job.duplicate_of is None
    assert job.args == [42]
    assert job.queue_name == "default"
    assert job.scheduled_at is None


def test_the_fake_records_the_payload_without_enqueued_at(jobs: FakeAdapter) -> None:
    # enqueued_at is stamped by the Redis adapter at LPUSH time; the fake keeps the
    # payload as the job API built it.
    EnqueueReportJob.perform_later(1)
    assert "enqueued_at" not in jobs.jobs[0].payload


def test_each_enqueue_gets_a_new_jid(jobs: FakeAdapter) -> None:
    jids = {EnqueueReportJob.perform_later(1).jid for _ in range(5)}
    assert len(jids) == 5


def test_class_options_reach_the_payload(jobs: FakeAdapter) -> None:
    EnqueueCriticalJob.perform_later(1, 2)
    job = jobs.jobs[0].payload
    assert job["queue"] == "critical"
    assert job["retry"] == 3
    assert job["retry_queue"] == "slow-retries"
    assert job["dead"] is False


def test_retry_false_reaches_the_payload(jobs: FakeAdapter) -> None:
    EnqueueNoRetryJob.perform_later()
    assert jobs.jobs[0].payload["retry"] is False


def test_payloads_of_jobs_without_special_options_carry_no_extra_fields(
    jobs: FakeAdapter,
) -> None:
    EnqueueReportJob.perform_later(1)
    assert set(jobs.jobs[0].payload) == {"class", "args", "retry", "queue", "jid", "created_at"}


def test_perform_in_with_a_timedelta_schedules_the_job(jobs: FakeAdapter) -> None:
    before = time.time()
    job = EnqueueReportJob.perform_in(timedelta(hours=1), 42)
    at = jobs.jobs[0].at
    assert at is not None
    assert before + 3600 <= at <= time.time() + 3600
    assert job.scheduled_at == at


def test_perform_in_with_plain_seconds_schedules_the_job(jobs: FakeAdapter) -> None:
    before = time.time()
    EnqueueReportJob.perform_in(90, 42)
    at = jobs.jobs[0].at
    assert at is not None
    assert before + 90 <= at <= time.time() + 90


@pytest.mark.parametrize("delay", [0, -30, timedelta(seconds=-5)])
def test_perform_in_with_no_or_negative_delay_enqueues_immediately(
    jobs: FakeAdapter, delay: float | timedelta
) -> None:
    job = EnqueueReportJob.perform_in(delay, 1)
    assert jobs.jobs[0].at is None
    assert job.scheduled_at is None


def test_perform_at_with_a_datetime_schedules_at_that_time(jobs: FakeAdapter) -> None:
    when = datetime.now(UTC) + timedelta(minutes=10)
    EnqueueReportJob.perform_at(when, 42)
    assert jobs.jobs[0].at == when.timestamp()


def test_perform_at_with_epoch_seconds_schedules_at_that_time(jobs: FakeAdapter) -> None:
    when = time.time() + 300
    EnqueueReportJob.perform_at(when, 42)
    assert jobs.jobs[0].at == when


def test_perform_at_with_a_small_number_treats_it_as_relative_seconds(jobs: FakeAdapter) -> None:
    before = time.time()
    EnqueueReportJob.perform_at(30, 42)
    at = jobs.jobs[0].at
    assert at is not None
    assert before + 30 <= at <= time.time() + 30


@pytest.mark.parametrize(
    "when",
    [
        datetime(2001, 1, 1, tzinfo=UTC),
        datetime.now(UTC) - timedelta(seconds=1),
        1_500_000_000.0,
    ],
)
def test_perform_at_a_past_time_enqueues_immediately(
    jobs: FakeAdapter, when: datetime | float
) -> None:
    EnqueueReportJob.perform_at(when, 42)
    assert jobs.jobs[0].at is None


def test_perform_in_rejects_something_that_is_not_a_delay(jobs: FakeAdapter) -> None:
    with pytest.raises(TypeError):
        EnqueueReportJob.perform_in("soon", 1)  # type: ignore[arg-type]
    assert jobs.jobs == []


def test_set_queue_overrides_the_class_queue(jobs: FakeAdapter) -> None:
    job = EnqueueReportJob.set(queue="critical").perform_later(42)
    assert jobs.jobs[0].payload["queue"] == "critical"
    assert job.queue_name == "critical"


def test_set_wait_and_queue_together(jobs: FakeAdapter) -> None:
    before = time.time()
    EnqueueReportJob.set(wait=timedelta(minutes=5), queue="critical").perform_later(42)
    [entry] = jobs.jobs
    assert entry.queue == "critical"
    assert entry.at is not None
    assert before + 300 <= entry.at <= time.time() + 300


def test_set_wait_until_schedules_at_that_time(jobs: FakeAdapter) -> None:
    when = datetime.now(UTC) + timedelta(days=1)
    EnqueueReportJob.set(wait_until=when).perform_later(42)
    assert jobs.jobs[0].at == when.timestamp()


def test_set_retry_overrides_the_class_retry(jobs: FakeAdapter) -> None:
    EnqueueReportJob.set(retry=0).perform_later(1)
    assert jobs.jobs[0].payload["retry"] == 0


def test_set_returns_a_configured_job_that_can_be_refined(jobs: FakeAdapter) -> None:
    configured = EnqueueReportJob.set(queue="a")
    assert isinstance(configured, ConfiguredJob)
    configured.set(queue="b").perform_later(1)
    configured.perform_later(2)
    assert [(entry.queue, entry.args) for entry in jobs.jobs] == [("b", [1]), ("a", [2])]


def test_perform_bulk_returns_the_jids_in_order(jobs: FakeAdapter) -> None:
    jids = EnqueueBulkJob.perform_bulk([[1], [2], [3]])
    assert [entry.jid for entry in jobs.jobs] == jids
    assert [entry.args for entry in jobs.jobs] == [[1], [2], [3]]
    assert len(set(jids)) == 3
    assert all(HEX24.fullmatch(jid) for jid in jids)


def test_perform_bulk_runs_no_enqueue_callbacks(jobs: FakeAdapter) -> None:
    EnqueueBulkJob.enqueue_callbacks.clear()
    EnqueueBulkJob.perform_bulk([[1], [2]])
    assert len(jobs.jobs) == 2
    assert EnqueueBulkJob.enqueue_callbacks == []


def test_perform_bulk_splits_into_batches_without_losing_jobs(jobs: FakeAdapter) -> None:
    jids = EnqueueBulkJob.perform_bulk([[n] for n in range(7)], batch_size=3)
    assert len(jids) == 7
    assert [entry.args[0] for entry in jobs.jobs] == list(range(7))


def test_perform_bulk_writes_the_payload_a_single_enqueue_writes(jobs: FakeAdapter) -> None:
    single = EnqueueBulkJob.perform_later(0).payload
    jids = EnqueueBulkJob.perform_bulk([[1], [2], [3]], batch_size=2)
    assert len(set(jids)) == 3 and all(HEX24.fullmatch(jid) for jid in jids)
    varying = {"jid", "args", "created_at", "enqueued_at"}
    for entry in jobs.jobs[1:]:
        assert list(entry.payload) == list(single), "same fields in the same order"
        assert {k: v for k, v in entry.payload.items() if k not in varying} == {
            k: v for k, v in single.items() if k not in varying
        }
    # Arguments are not shared between the jobs of one call.
    assert [entry.args for entry in jobs.jobs[1:]] == [[1], [2], [3]]


def test_perform_bulk_honours_set_queue_and_wait(jobs: FakeAdapter) -> None:
    EnqueueBulkJob.set(queue="bulk", wait=60).perform_bulk([[1], [2]])
    assert {entry.queue for entry in jobs.jobs} == {"bulk"}
    assert all(entry.at is not None and entry.at > time.time() + 50 for entry in jobs.jobs)


def test_perform_bulk_checks_every_argument_list(jobs: FakeAdapter) -> None:
    with pytest.raises(SerializationError):
        EnqueueBulkJob.perform_bulk([[1], [{2}]])
    with pytest.raises(ArgumentMismatchError):
        EnqueueBulkJob.perform_bulk([[1], [2, 3]])


def test_perform_bulk_of_a_unique_job_runs_no_enqueue_callbacks(jobs: FakeAdapter) -> None:
    EnqueueUniqueBulkJob.enqueue_callbacks.clear()
    EnqueueUniqueBulkJob.perform_bulk([[1], [2]])
    assert len(jobs.jobs) == 2
    # perform_bulk's contract (as Sidekiq's push_bulk): no enqueue callbacks.
    assert EnqueueUniqueBulkJob.enqueue_callbacks == []


def test_perform_bulk_of_a_unique_job_reports_no_jid_for_a_refused_duplicate(
    jobs: FakeAdapter,
) -> None:
    jids = EnqueueUniqueBulkJob.perform_bulk([[1], [2], [1]])
    enqueued = {entry.jid for entry in jobs.jobs}
    assert len(enqueued) == 2
    reported = [jid for jid in jids if jid is not None]
    assert set(reported) <= enqueued, "perform_bulk returned a jid for a job it did not enqueue"


def test_too_few_arguments_raise_argument_mismatch_at_enqueue(jobs: FakeAdapter) -> None:
    with pytest.raises(ArgumentMismatchError, match=r"EnqueueReportJob\.perform takes 1"):
        EnqueueReportJob.perform_later()
    assert jobs.jobs == []


def test_too_many_arguments_raise_argument_mismatch_at_enqueue(jobs: FakeAdapter) -> None:
    with pytest.raises(ArgumentMismatchError, match="got 2"):
        EnqueueReportJob.perform_later(1, 2)
    assert jobs.jobs == []


def test_optional_parameters_widen_the_accepted_arity(jobs: FakeAdapter) -> None:
    EnqueueOptionalArgsJob.perform_later(1)
    EnqueueOptionalArgsJob.perform_later(1, 2)
    with pytest.raises(ArgumentMismatchError, match="1 to 2"):
        EnqueueOptionalArgsJob.perform_later(1, 2, 3)
    with pytest.raises(ArgumentMismatchError):
        EnqueueOptionalArgsJob.perform_later()
    assert len(jobs.jobs) == 2


def test_var_positional_perform_accepts_any_count(jobs: FakeAdapter) -> None:
    EnqueueCriticalJob.perform_later()
    EnqueueCriticalJob.perform_later(*range(20))
    assert len(jobs.jobs) == 2


def test_arity_is_checked_for_scheduled_enqueues_too(jobs: FakeAdapter) -> None:
    with pytest.raises(ArgumentMismatchError):
        EnqueueReportJob.perform_in(10)
    with pytest.raises(ArgumentMismatchError):
        EnqueueReportJob.set(queue="x").perform_later(1, 2)
    assert jobs.jobs == []


def test_a_non_json_argument_raises_serialization_error_at_enqueue(jobs: FakeAdapter) -> None:
    with pytest.raises(SerializationError) as raised:
        EnqueueReportJob.perform_later(datetime.now(UTC))
    assert "EnqueueReportJob" in str(raised.value)
    assert "Pass an ID" in str(raised.value)
    assert jobs.jobs == []


def test_perform_later_without_an_adapter_raises_a_config_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(adapter, "_current", None)
    monkeypatch.delenv("REDIS_URL", raising=False)  # it would be used instead
    with pytest.raises(ConfigError, match="configure"):
        EnqueueReportJob.perform_later(1)


def test_unique_for_refuses_a_second_enqueue_of_the_same_job(jobs: FakeAdapter) -> None:
    first = EnqueueUniqueJob.perform_later(7)
    second = EnqueueUniqueJob.perform_later(7)
    assert first.successfully_enqueued is True
    assert second.successfully_enqueued is False
    assert second.duplicate_of == first.jid
    assert [entry.jid for entry in jobs.jobs] == [first.jid]


def test_unique_for_allows_other_arguments_and_other_queues(jobs: FakeAdapter) -> None:
    EnqueueUniqueJob.perform_later(7)
    assert EnqueueUniqueJob.perform_later(8).successfully_enqueued is True
    assert EnqueueUniqueJob.set(queue="other").perform_later(7).successfully_enqueued is True
    assert len(jobs.jobs) == 3


def test_unique_jobs_carry_their_lock_ttl_and_digest(jobs: FakeAdapter) -> None:
    EnqueueUniqueJob.perform_later(7)
    job = jobs.jobs[0].payload
    assert job["unique_for"] == 3600.0
    assert re.fullmatch(r"[0-9a-f]{32}", job["unique_digest"])


def test_the_registry_resolves_the_ruby_style_name_and_the_dotted_path() -> None:
    assert registry.resolve("EnqueueReportJob") is EnqueueReportJob
    assert registry.resolve(f"{__name__}.EnqueueReportJob") is EnqueueReportJob
    assert "EnqueueReportJob" in registry.registered_names()
    assert registry.resolve("NoSuchEnqueueJob") is None


def test_job_name_sets_the_payload_class_and_registers_it(jobs: FakeAdapter) -> None:
    EnqueueRenamedJob.perform_later()
    assert jobs.jobs[0].payload["class"] == "Legacy::RenamedJob"
    assert registry.resolve("Legacy::RenamedJob") is EnqueueRenamedJob
    assert registry.resolve(f"{__name__}.EnqueueRenamedJob") is EnqueueRenamedJob


def test_job_name_defaults_to_the_class_name() -> None:
    assert EnqueueReportJob.job_name == "EnqueueReportJob"
    assert EnqueueCriticalJob.job_name == "EnqueueCriticalJob"
