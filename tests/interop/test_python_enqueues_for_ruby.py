"""Our perform_later / perform_in / perform_bulk enqueue jobs that exist only in Ruby,
and a real `sidekiq -r ./interop_job.rb` process runs them (issue 6, part 2). What
Ruby writes back (stats, failures, its heartbeat) reads correctly through our API.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from sidequest import Job, api
from tests.interop.sidekiq_process import SidekiqProcess
from tests.support.polling import wait_for

RUBY_RUNS = "interop:ruby-runs"


class InteropJob(Job):
    """Stands for the Ruby class `InteropJob` (ruby/interop_job.rb); never run in Python."""

    job_name = "InteropJob"
    queue = "ruby"


class InteropFailingJob(Job):
    """Stands for the Ruby class `InteropFailingJob`, which raises ArgumentError."""

    job_name = "InteropFailingJob"
    queue = "ruby"
    retry = 3


def ruby_runs(store: redis.Redis) -> list[dict[str, Any]]:
    return [json.loads(entry) for entry in store.lrange(RUBY_RUNS, 0, -1)]


def ruby_run_of(store: redis.Redis, jid: str) -> dict[str, Any] | None:
    return next((run for run in ruby_runs(store) if run["jid"] == jid), None)


@pytest.fixture(scope="module")
def sidekiq(
    redis_url: str, interop_dir: Path, enqueue_to: str, store: redis.Redis
) -> Iterator[SidekiqProcess]:
    process = SidekiqProcess.start(redis_url, interop_dir / "sidekiq.log")
    try:
        # Sidekiq's poller waits up to 5 s before its first look at the schedule; once
        # this warm-up job ran, it looks every 0.5-1.5 s (poll_interval_average = 1).
        warm_up = InteropJob.perform_in(0.1, "warm-up")
        wait_for(
            lambda: ruby_run_of(store, warm_up.jid),
            timeout=20,
            message=f"Sidekiq's scheduler to start (log: {process.child.log_path})",
        )
        yield process
    finally:
        process.stop()


def test_perform_later_runs_in_ruby_with_the_arguments(
    sidekiq: SidekiqProcess, store: redis.Redis
) -> None:
    args = [7, "seven", {"nested": [1, None, True], "ratio": 0.25}]
    job = InteropJob.perform_later(*args)

    run = wait_for(lambda: ruby_run_of(store, job.jid), message="Ruby to run InteropJob")
    assert run["class"] == "InteropJob"
    assert run["args"] == args
    assert run["pid"] == sidekiq.pid


def test_perform_in_runs_in_ruby_on_time(sidekiq: SidekiqProcess, store: redis.Redis) -> None:
    job = InteropJob.perform_in(2, "later")
    assert job.scheduled_at is not None

    run = wait_for(lambda: ruby_run_of(store, job.jid), timeout=15, message="scheduled run")
    assert run["args"] == ["later"]
    # Sidekiq 6.4 polls the schedule every 0.5-1.5 s here (poll_interval_average = 1).
    assert job.scheduled_at <= run["started_at"] <= job.scheduled_at + 2.5


def test_perform_bulk_runs_every_job_in_ruby(sidekiq: SidekiqProcess, store: redis.Redis) -> None:
    jids = InteropJob.perform_bulk([[n] for n in range(20)])

    wait_for(lambda: {run["jid"] for run in ruby_runs(store)} >= set(jids), message="20 Ruby runs")
    by_jid = {run["jid"]: run["args"] for run in ruby_runs(store)}
    assert [by_jid[jid] for jid in jids] == [[n] for n in range(20)]


def test_a_ruby_failure_reads_through_our_retry_set(
    sidekiq: SidekiqProcess, store: redis.Redis, api_client: redis.Redis
) -> None:
    job = InteropFailingJob.perform_later(3, "three")
    before = time.time()

    entry = wait_for(
        lambda: api.RetrySet(api_client).find_job(job.jid), message="Ruby's retry entry"
    )
    assert entry.display_class == "InteropFailingJob"
    assert entry.args == [3, "three"]
    assert entry.error_class == "ArgumentError"
    assert entry.error_message == 'ruby refuses [3, "three"]'
    assert entry.retry_count == 0
    assert entry.failed_at is not None and before - 1 <= entry.failed_at <= time.time()
    # Sidekiq 6.4's first retry: 0**4 + 15 s plus rand(10) * 1 s.
    assert entry.failed_at + 15 - 1 <= entry.at <= entry.failed_at + 25


def test_rubys_heartbeat_and_counters_read_through_our_api(
    sidekiq: SidekiqProcess, store: redis.Redis, api_client: redis.Redis
) -> None:
    processes = {process.identity: process for process in api.ProcessSet(api_client).all()}
    ruby = processes[sidekiq.identity]
    assert ruby.hostname == socket.gethostname()
    assert ruby.pid == sidekiq.pid
    assert ruby.queues == ["ruby"]
    assert ruby.concurrency == 2
    assert ruby.quiet is False
    assert ruby.started_at is not None and ruby.started_at <= time.time()

    # Sidekiq flushes its counters on its heartbeat (every second here, see interop_job.rb).
    ran = len(ruby_runs(store))
    wait_for(
        lambda: api.Stats(api_client).snapshot().processed >= ran,
        timeout=15,
        message="Ruby's processed counter",
    )
    history = api.Stats(api_client).history(1)
    assert history[0][1] == api.Stats(api_client).snapshot().processed


def test_a_ruby_worker_does_not_know_about_our_queue_pauses(
    sidekiq: SidekiqProcess, store: redis.Redis, api_client: redis.Redis
) -> None:
    # docs/sidekiq-compatibility.md: open-source Sidekiq never reads `paused` when it
    # fetches, so pausing a queue a Ruby worker serves does not hold its jobs.
    pauses = api.QueuePauses(api_client)
    pauses.pause("ruby")
    try:
        job = InteropJob.perform_later("while paused")
        wait_for(lambda: ruby_run_of(store, job.jid), message="Ruby to run it all the same")
    finally:
        pauses.resume("ruby")
