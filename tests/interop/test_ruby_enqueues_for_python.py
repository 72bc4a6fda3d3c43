"""Ruby's Sidekiq::Client enqueues jobs that our `sidequest worker` runs (issue 6, part 1).

The Ruby side is Debian's real Sidekiq 6.4.1; the class names are plain strings, as a
Rails app would write them for jobs implemented in Python.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import redis

from tests.interop.conftest import StartWorker, ruby_value
from tests.interop.interop_jobs import runs
from tests.interop.ruby_console import RubyConsole
from tests.support.polling import wait_for
from tests.support.worker_process import WorkerProcess

# Every JSON type, nested, as Ruby serializes it.
ARGS: list[Any] = [42, "pdf", {"locale": "de", "pages": [1, 2], "draft": False}, None, 1.5]


@pytest.fixture(scope="module", autouse=True)
def worker(start_worker: StartWorker) -> Iterator[WorkerProcess]:
    yield start_worker("-q", "reports", "-c", "4")


@pytest.fixture(scope="module")
def ruby_stub(ruby: RubyConsole) -> RubyConsole:
    """A Ruby class standing for the Python job, as a Rails app declares one to enqueue it."""
    ruby.run(
        "class ProcessReportJob; include Sidekiq::Worker; sidekiq_options queue: 'reports'; end"
    )
    return ruby


def run_of(store: redis.Redis, jid: str) -> dict[str, Any] | None:
    return next((run for run in runs(store) if run["jid"] == jid), None)


def wait_for_run(store: redis.Redis, jid: str, timeout: float = 10.0) -> dict[str, Any]:
    run = wait_for(lambda: run_of(store, jid), timeout=timeout, message=f"a run of {jid}")
    assert run is not None
    return run


def test_client_push_runs_with_the_arguments_ruby_sent(
    ruby: RubyConsole, store: redis.Redis
) -> None:
    jid = ruby.run(
        "Sidekiq::Client.push('class' => 'ProcessReportJob', 'queue' => 'reports', "
        f"'args' => {ruby_value(ARGS)})"
    )

    run = wait_for_run(store, jid)
    assert run["class"] == "ProcessReportJob"
    assert run["args"] == ARGS
    assert run["queue"] == "reports"


def test_push_bulk_runs_every_job_once_with_its_arguments(
    ruby: RubyConsole, store: redis.Redis
) -> None:
    arg_lists = [[n, f"report-{n}", {"n": n}] for n in range(50)]
    jids = ruby.run(
        "Sidekiq::Client.push_bulk('class' => 'ProcessReportJob', 'queue' => 'reports', "
        f"'args' => {ruby_value(arg_lists)})"
    )
    assert len(jids) == 50

    wait_for(lambda: {run["jid"] for run in runs(store)} >= set(jids), message="50 bulk jobs run")
    by_jid = {run["jid"]: run for run in runs(store) if run["jid"] in jids}
    assert [by_jid[jid]["args"] for jid in jids] == arg_lists
    assert sum(1 for run in runs(store) if run["jid"] in jids) == 50


def test_perform_async_of_a_ruby_stub_class_runs_in_python(
    ruby_stub: RubyConsole, store: redis.Redis
) -> None:
    jid = ruby_stub.run("ProcessReportJob.perform_async(7, 'csv')")

    assert wait_for_run(store, jid)["args"] == [7, "csv"]


def test_perform_in_runs_on_time(ruby_stub: RubyConsole, store: redis.Redis) -> None:
    jid = ruby_stub.run("ProcessReportJob.perform_in(2, 8, 'scheduled')")
    due = ruby_stub.run(f"Sidekiq::ScheduledSet.new.find_job('{jid}').at.to_f")

    run = wait_for_run(store, jid, timeout=15)
    assert run["args"] == [8, "scheduled"]
    # Not before it is due; our scheduler sleeps at most 1 s between looks.
    assert due <= run["started_at"] <= due + 1.5


def test_push_with_at_runs_on_time(ruby: RubyConsole, store: redis.Redis) -> None:
    due = ruby.run("$due = Time.now.to_f + 1.5")
    jid = ruby.run(
        "Sidekiq::Client.push('class' => 'ProcessReportJob', 'queue' => 'reports', "
        "'args' => [9], 'at' => $due)"
    )

    run = wait_for_run(store, jid, timeout=15)
    assert run["args"] == [9]
    assert due <= run["started_at"] <= due + 1.5


def test_an_unknown_class_is_retried_as_sidekiq_retries_it(
    ruby: RubyConsole, store: redis.Redis
) -> None:
    # Sidekiq retries a NameError on its normal schedule, which keeps rolling deploys
    # safe: a worker of the old release meets classes only the new one defines. Ours
    # does the same (issue 22), and says why in Sidekiq's RetrySet.
    jid = ruby.run(
        "Sidekiq::Client.push('class' => 'NoSuchReportJob', 'queue' => 'reports', 'args' => [1])"
    )

    retry = wait_for(
        lambda: ruby.run(
            f"(e = Sidekiq::RetrySet.new.find_job('{jid}')) && InteropSnapshots.job(e)"
        ),
        message="the unknown job in Sidekiq's RetrySet",
    )
    assert retry["class"] == "NoSuchReportJob"
    assert retry["retry_count"] == 0
    assert retry["error_class"] == "sidequest.errors.UnknownJobError"
    assert "NoSuchReportJob" in retry["error_message"]
    assert ruby.run(f"Sidekiq::DeadSet.new.find_job('{jid}')") is None


@pytest.mark.parametrize(("option", "lines"), [("2", 2), ("false", 0)])
def test_the_backtrace_option_of_a_ruby_class_is_obeyed(
    ruby: RubyConsole, store: redis.Redis, option: str, lines: int
) -> None:
    # Sidekiq's client copies `sidekiq_options backtrace:` into the payload, and workers
    # keep that many lines (ours would keep 30 by default).
    ruby.run(
        "class DoomedReportJob; include Sidekiq::Worker; "
        f"sidekiq_options queue: 'reports', retry: 0, backtrace: {option}; end"
    )
    jid = ruby.run(f"DoomedReportJob.perform_async({lines})")

    dead = wait_for(
        lambda: ruby.run(
            f"(e = Sidekiq::DeadSet.new.find_job('{jid}')) && InteropSnapshots.job(e)"
        ),
        message="the dead job in Sidekiq's DeadSet",
    )
    assert dead["error_message"] == f"report {lines} can never be built"
    assert len(dead["backtrace"] or []) == lines
