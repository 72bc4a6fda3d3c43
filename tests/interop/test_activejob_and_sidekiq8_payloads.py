"""ActiveJob-wrapped payloads and Sidekiq 8's format run in our worker and read correctly
through `sidequest.api` (issue 6, part 5).

- Rails' real ActiveJob (Debian's ruby-activejob 6.1) with its Sidekiq adapter writes
  `ActiveJob::QueueAdapters::SidekiqAdapter::JobWrapper` payloads (Sidekiq <= 7.3).
- Sidekiq 8 payloads are written here as raw JSON, since Debian's Sidekiq is 6.4: integer
  millisecond timestamps, `Sidekiq::ActiveJob::Wrapper`, a Sidekiq 8.1 heartbeat.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from sidequest import api
from tests.interop import interop_jobs as jobs
from tests.interop.conftest import StartWorker
from tests.interop.payloads import WRAPPER_6, WRAPPER_8, ms, push, sidekiq8_job
from tests.interop.ruby_console import RubyConsole
from tests.support.polling import wait_for
from tests.support.worker_process import WorkerProcess

# ActiveJob's serialized form of `perform_later(5, "pdf", id: 9, tags: [:a])` in Rails 7+.
AJ_ARGUMENTS = [5, "pdf", {"id": 9, "tags": ["a"], "_aj_ruby2_keywords": ["id", "tags"]}]
PYTHON_ARGS = [5, "pdf", {"id": 9, "tags": ["a"]}]


@pytest.fixture(scope="module", autouse=True)
def worker(start_worker: StartWorker) -> Iterator[WorkerProcess]:
    yield start_worker("-q", "reports", "-c", "3")


def run_of(store: redis.Redis, jid: str) -> dict[str, Any] | None:
    return next((run for run in jobs.runs(store) if run["jid"] == jid), None)


# -- Rails' ActiveJob (the <= 7.3 wrapper) ------------------------------------------------


def test_rails_perform_later_runs_in_python_with_the_arguments(
    rails: RubyConsole, store: redis.Redis
) -> None:
    jid = rails.run(
        "ProcessReportJob.perform_later(42, 'x', {a: 1, 'b' => [1.5, nil]}).provider_job_id"
    )

    run = wait_for(lambda: run_of(store, jid), message="the ActiveJob job to run")
    assert run["class"] == "ProcessReportJob"
    assert run["args"] == [42, "x", {"a": 1, "b": [1.5, None]}]  # Ruby's symbol-key marker gone


def test_rails_scheduled_job_runs_on_time(rails: RubyConsole, store: redis.Redis) -> None:
    jid = rails.run("ProcessReportJob.set(wait: 2).perform_later(8).provider_job_id")
    entry = rails.run(f"InteropSnapshots.job(Sidekiq::ScheduledSet.new.find_job('{jid}'))")
    assert entry["class"] == WRAPPER_6
    assert entry["display_class"] == "ProcessReportJob"

    run = wait_for(lambda: run_of(store, jid), timeout=15, message="the scheduled run")
    assert run["args"] == [8]
    assert entry["at"] <= run["started_at"] <= entry["at"] + 1.5


def test_rails_payload_displays_the_same_in_sidekiq_and_our_api(
    rails: RubyConsole, api_client: redis.Redis
) -> None:
    rails.run("ProcessReportJob.set(queue: 'rails-waiting').perform_later(3, {id: 4})")
    theirs = rails.run("InteropSnapshots.queue('rails-waiting')")["jobs"][0]
    record = api.Queue(api_client, "rails-waiting").page(0, 1)[0]

    assert theirs["class"] == record.klass == WRAPPER_6
    assert theirs["display_class"] == record.display_class == "ProcessReportJob"
    assert (
        theirs["display_args"] == record.display_args == [3, {"id": 4, "_aj_symbol_keys": ["id"]}]
    )
    assert theirs["enqueued_at"] == record.enqueued_at


# -- Sidekiq 8's format -----------------------------------------------------------------


def test_sidekiq8_activejob_payload_runs_with_its_arguments(store: redis.Redis) -> None:
    job = sidekiq8_job(AJ_ARGUMENTS, at=time.time())
    push(store, job)

    run = wait_for(lambda: run_of(store, job["jid"]), message="the Sidekiq 8 job to run")
    assert run["class"] == "ProcessReportJob"
    assert run["args"] == PYTHON_ARGS


def test_sidekiq8_plain_payload_runs(store: redis.Redis) -> None:
    now = ms(time.time())
    job = {
        "retry": True,
        "queue": "reports",
        "class": "ProcessReportJob",
        "args": [1, "foo"],
        "jid": uuid.uuid4().hex[:24],
        "created_at": now,
        "enqueued_at": now + 2,
    }
    push(store, job)

    assert wait_for(lambda: run_of(store, job["jid"]))["args"] == [1, "foo"]


def test_sidekiq8_scheduled_payload_runs_on_time(store: redis.Redis) -> None:
    # Sidekiq 8 strips `at` and `enqueued_at` from schedule members; the score stays
    # float seconds in every version.
    job = sidekiq8_job([11], at=time.time())
    del job["enqueued_at"]
    due = time.time() + 1.5
    store.zadd("schedule", {json.dumps(job): due})

    run = wait_for(lambda: run_of(store, job["jid"]), timeout=15, message="the scheduled run")
    assert run["args"] == [11]
    assert due <= run["started_at"] <= due + 1.5


def test_our_api_reads_sidekiq8_timestamps_and_wrapped_classes(api_client: redis.Redis) -> None:
    enqueued = time.time() - 30
    job = sidekiq8_job(AJ_ARGUMENTS, queue="sidekiq8-waiting", at=enqueued)
    push(api_client, job)

    record = api.Queue(api_client, "sidekiq8-waiting").page(0, 1)[0]
    assert record.display_class == "ProcessReportJob"
    assert record.display_args == AJ_ARGUMENTS
    assert record.enqueued_at == job["enqueued_at"] / 1000
    assert record.created_at == job["created_at"] / 1000
    assert 29 < api.Queue(api_client, "sidekiq8-waiting").latency() < 40


def test_sidekiq_6_4_cannot_read_sidekiq8_payloads(
    ruby: RubyConsole, api_client: redis.Redis
) -> None:
    """Why Sidekiq 8's format is read by us but not by Debian's Sidekiq: 6.4 knows neither
    the new wrapper class nor millisecond timestamps (docs/sidekiq-compatibility.md)."""
    job = sidekiq8_job([15], queue="sidekiq8-for-ruby", at=time.time() - 30)
    push(api_client, job)

    theirs = ruby.run("InteropSnapshots.queue('sidekiq8-for-ruby')")
    assert theirs["jobs"][0]["display_class"] == WRAPPER_8  # not unwrapped
    assert theirs["latency"] < -1e9  # now - <milliseconds> read as seconds
    assert 29 < api.Queue(api_client, "sidekiq8-for-ruby").latency() < 40


def test_latency_of_a_job_without_enqueued_at_counts_from_created_at(
    ruby: RubyConsole, api_client: redis.Redis
) -> None:
    """A deliberate difference: Sidekiq 6.4 reports 0 for a job with no `enqueued_at`
    (written by some other tool); we count from `created_at`, as Sidekiq 8 does."""
    job = {"class": "ProcessReportJob", "args": [16], "jid": "a" * 24, "queue": "no-enqueued-at"}
    job.update(retry=True, created_at=time.time() - 30)
    push(api_client, job)

    assert ruby.run("Sidekiq::Queue.new('no-enqueued-at').latency") == 0
    assert 29 < api.Queue(api_client, "no-enqueued-at").latency() < 40


def test_our_retry_and_dead_sets_read_sidekiq8_error_fields(api_client: redis.Redis) -> None:
    failed = time.time() - 600
    job = sidekiq8_job([12], at=failed - 5)
    job.update(
        retry_count=2,
        error_class="Net::ReadTimeout",
        error_message="Net::ReadTimeout with #<TCPSocket:(closed)>",
        failed_at=ms(failed),
        retried_at=ms(failed + 300),
    )
    next_try = time.time() + 3600
    api_client.zadd("retry", {json.dumps(job): next_try})
    dead = dict(job, jid=uuid.uuid4().hex[:24])
    api_client.zadd("dead", {json.dumps(dead): failed + 300})

    entry = api.RetrySet(api_client).find_job(job["jid"])
    assert entry is not None
    assert entry.display_class == "ProcessReportJob"
    assert entry.retry_count == 2
    assert entry.error_class == "Net::ReadTimeout"
    assert entry.failed_at == job["failed_at"] / 1000
    assert entry.retried_at == job["retried_at"] / 1000
    assert entry.at == next_try
    buried = api.DeadSet(api_client).find_job(dead["jid"])
    assert buried is not None and buried.failed_at == dead["failed_at"] / 1000
    api_client.zrem("retry", json.dumps(job))


def test_a_failing_sidekiq8_job_keeps_readable_timestamps(
    store: redis.Redis, api_client: redis.Redis
) -> None:
    store.set(jobs.BROKEN, "1")
    try:
        job = sidekiq8_job([13], wrapped="FlakyReportJob", at=time.time())
        push(store, job)
        entry = wait_for(
            lambda: api.RetrySet(api_client).find_job(job["jid"]), message="the retry entry"
        )
    finally:
        store.delete(jobs.BROKEN)

    stored = entry.item
    # We leave Ruby's fields as they came (int ms) and write ours as float seconds;
    # Sidekiq 8 reads each field by its JSON type, so both are right for it.
    assert stored["created_at"] == job["created_at"]
    assert isinstance(stored["failed_at"], float)
    assert entry.created_at == job["created_at"] / 1000
    assert entry.display_class == "FlakyReportJob"
    assert entry.error_message == "report 13 is broken"
    assert entry.retry_count == 0


def test_a_sidekiq8_process_reads_through_our_api(api_client: redis.Redis) -> None:
    identity = "rails-host-1:4242:0123456789ab"
    started = time.time() - 120
    info = {
        "hostname": "rails-host-1",
        "started_at": started,
        "pid": 4242,
        "tag": "shop",
        "queues": ["critical", "default"],
        "weights": [{"critical": 0, "default": 0}],
        "labels": ["rails"],
        "identity": identity,
        "version": "8.1.7",
        "embedded": False,
        "capsules": {
            "default": {
                "concurrency": 5,
                "mode": "strict",
                "weights": {"critical": 0, "default": 0},
            }
        },
    }
    running = sidekiq8_job([14], queue="critical", at=time.time() - 3)
    pipe = api_client.pipeline()
    pipe.sadd("processes", identity)
    # Sidekiq 8.1.2+: `concurrency` is a hash field, no longer inside `info`.
    pipe.hset(
        identity,
        mapping={
            "info": json.dumps(info),
            "busy": 1,
            "beat": repr(time.time()),
            "quiet": "false",
            "rss": 123456,
            "rtt_us": 250,
            "concurrency": 5,
        },
    )
    pipe.expire(identity, 60)
    work = {"queue": "critical", "payload": json.dumps(running), "run_at": int(time.time()) - 2}
    pipe.hset(f"{identity}:work", "abc1", json.dumps(work))
    pipe.expire(f"{identity}:work", 60)
    pipe.execute()
    try:
        process = api.ProcessSet(api_client).get(identity)
        assert process is not None
        assert (process.hostname, process.pid, process.tag) == ("rails-host-1", 4242, "shop")
        assert process.concurrency == 5
        assert process.queues == ["critical", "default"]
        assert process.busy == 1
        assert process.started_at == started
        assert process.version == "8.1.7"

        [entry] = [w for w in api.ProcessSet(api_client).work() if w.identity == identity]
        assert entry.job.jid == running["jid"]
        assert entry.job.display_class == "ProcessReportJob"
        assert entry.queue == "critical"
        assert entry.run_at == work["run_at"]
    finally:
        api_client.delete(identity, f"{identity}:work")
        api_client.srem("processes", identity)
