"""After our workers ran, failed and killed jobs, Sidekiq's own API (Debian's 6.4.1)
reports the same numbers and jobs as `sidequest.api` (issue 6, part 3).

One scene per module: two `sidequest worker` processes, jobs that succeeded, jobs
waiting for a retry, dead jobs (one killed from our API), scheduled jobs, jobs in
queues nobody listens to, and one job running right now.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import redis

from sidequest import api
from tests.interop import interop_jobs as jobs
from tests.interop.conftest import StartWorker, identity_of
from tests.interop.ruby_console import RubyConsole
from tests.support.polling import wait_for
from tests.support.worker_process import WorkerProcess

SUCCEEDED, RETRYING, DOOMED, SCHEDULED, BACKLOG, DEFAULT = 5, 3, 2, 4, 3, 2
# Latencies are read a few milliseconds apart on the two sides.
LATENCY_TOLERANCE = 0.5


@dataclass
class Scene:
    workers: list[WorkerProcess]
    identities: list[str]
    held_jid: str
    killed_jid: str


@pytest.fixture(scope="module")
def scene(
    start_worker: StartWorker, enqueue_to: str, store: redis.Redis, api_client: redis.Redis
) -> Iterator[Scene]:
    store.set(jobs.BROKEN, "1")
    store.set(jobs.HOLD, "1")
    for n in range(SUCCEEDED):
        jobs.ProcessReportJob.perform_later(n, {"format": "pdf"})
    for n in range(RETRYING):
        jobs.FlakyReportJob.perform_later(100 + n)
    for n in range(DOOMED):
        jobs.DoomedReportJob.perform_later(200 + n)
    for n in range(SCHEDULED):
        jobs.ProcessReportJob.perform_in(3600 + n, 300 + n)
    for n in range(BACKLOG):
        jobs.ProcessReportJob.set(queue="backlog").perform_later(400 + n)
    for n in range(DEFAULT):
        jobs.ProcessReportJob.set(queue="default").perform_later(500 + n)
    held = jobs.HeldReportJob.perform_later(600, 120.0)

    workers = [
        start_worker("-q", "reports", "-c", "3", "--tag", "interop-a"),
        start_worker("-q", "reports", "-q", "critical", "-c", "2"),
    ]
    try:
        wait_for(
            lambda: store.zcard("retry") == RETRYING and store.zcard("dead") == DOOMED,
            timeout=20,
            message="failures recorded",
        )
        wait_for(
            lambda: store.get("stat:processed") == str(SUCCEEDED + RETRYING + DOOMED),
            message="processed counted",
        )
        identities = wait_for(
            lambda: (
                all(identity_of(store, w.pid) for w in workers)
                and [str(identity_of(store, w.pid)) for w in workers]
            ),
            message="both heartbeats",
        )
        wait_for(
            lambda: sum(int(store.hget(i, "busy") or 0) for i in identities) == 1,
            message="the held job reported busy",
        )
        retries = api.RetrySet(api_client)
        victim = retries.page(0, 1)[0]
        assert retries.kill(victim)
        yield Scene(workers, identities, held.jid, victim.jid)
    finally:
        store.delete(jobs.HOLD)  # let the held job finish so the workers stop at once


def by_jid(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {record["jid"]: record for record in records}


def ours(record: api.JobRecord) -> dict[str, Any]:
    """Our API's view of a job, in the shape of ruby/snapshots.rb's `job`."""
    view = {
        "jid": record.jid,
        "class": record.klass,
        "display_class": record.display_class,
        "args": record.args,
        "display_args": record.display_args,
        "queue": record.queue,
        "enqueued_at": record.enqueued_at,
        "created_at": record.created_at,
        "error_class": record.error_class,
        "error_message": record.error_message,
        "retry_count": record.retry_count,
        "failed_at": record.failed_at,
        "retried_at": record.retried_at,
        "backtrace": record.backtrace or None,
    }
    if isinstance(record, api.SortedEntry):
        view["at"] = record.at
    return view


def test_stats_agree(scene: Scene, ruby: RubyConsole, api_client: redis.Redis) -> None:
    theirs = ruby.run("InteropSnapshots.stats")
    mine = api.Stats(api_client).snapshot()

    assert theirs["processed"] == mine.processed == SUCCEEDED + RETRYING + DOOMED
    assert theirs["failed"] == mine.failed == RETRYING + DOOMED
    assert theirs["scheduled_size"] == mine.scheduled == SCHEDULED
    assert theirs["retry_size"] == mine.retries == RETRYING - 1
    assert theirs["dead_size"] == mine.dead == DOOMED + 1
    assert theirs["processes_size"] == mine.processes == 2
    assert theirs["workers_size"] == mine.busy == 1
    assert theirs["enqueued"] == mine.enqueued == BACKLOG + DEFAULT
    assert theirs["queues"] == mine.queues == {"backlog": BACKLOG, "default": DEFAULT, "reports": 0}
    assert mine.default_latency > 0
    assert abs(theirs["default_queue_latency"] - mine.default_latency) < LATENCY_TOLERANCE


def test_daily_history_agrees(scene: Scene, ruby: RubyConsole, api_client: redis.Redis) -> None:
    theirs = ruby.run("InteropSnapshots.history(3)")
    mine = api.Stats(api_client).history(3)

    assert theirs["processed"] == {day.isoformat(): count for day, count, _ in mine}
    assert theirs["failed"] == {day.isoformat(): count for day, _, count in mine}
    assert mine[0][1:] == (SUCCEEDED + RETRYING + DOOMED, RETRYING + DOOMED)


@pytest.mark.parametrize("name", ["backlog", "default", "reports"])
def test_queues_agree(scene: Scene, ruby: RubyConsole, api_client: redis.Redis, name: str) -> None:
    assert ruby.run("InteropSnapshots.queue_names") == [q.name for q in api.Queue.all(api_client)]
    theirs = ruby.run(f"InteropSnapshots.queue('{name}')")
    queue = api.Queue(api_client, name)

    assert theirs["size"] == queue.size()
    assert abs(theirs["latency"] - queue.latency()) < LATENCY_TOLERANCE
    assert theirs["jobs"] == [ours(record) for record in queue.page(0, 100)]


def test_retry_set_agrees(scene: Scene, ruby: RubyConsole, api_client: redis.Redis) -> None:
    theirs = by_jid(ruby.run("InteropSnapshots.retries"))
    mine = by_jid([ours(entry) for entry in api.RetrySet(api_client).each()])

    assert theirs == mine
    assert len(mine) == RETRYING - 1
    for entry in mine.values():
        assert entry["display_class"] == "FlakyReportJob"
        assert entry["error_class"] == "tests.interop.interop_jobs.ReportBrokenError"
        assert entry["error_message"] == f"report {entry['args'][0]} is broken"
        assert entry["retry_count"] == 0
        assert entry["failed_at"] <= time.time()
        # retry_on(wait=3600) with ActiveJob's default 15% jitter.
        assert entry["failed_at"] + 3600 <= entry["at"] <= entry["failed_at"] + 3600 * 1.15 + 1
        assert "interop_jobs.py" in entry["backtrace"][0]


def test_scheduled_set_agrees(scene: Scene, ruby: RubyConsole, api_client: redis.Redis) -> None:
    theirs = ruby.run("InteropSnapshots.scheduled")
    mine = [ours(entry) for entry in api.ScheduledSet(api_client).each()]

    assert theirs == list(reversed(mine))  # Sidekiq lists the latest first
    assert [entry["args"] for entry in mine] == [[300 + n] for n in range(SCHEDULED)]
    assert all(entry["enqueued_at"] is None for entry in mine)


def test_dead_set_agrees(scene: Scene, ruby: RubyConsole, api_client: redis.Redis) -> None:
    theirs = by_jid(ruby.run("InteropSnapshots.dead"))
    mine = by_jid([ours(entry) for entry in api.DeadSet(api_client).each()])

    assert theirs == mine
    killed = mine[scene.killed_jid]
    assert killed["display_class"] == "FlakyReportJob"
    assert killed["error_class"] == "tests.interop.interop_jobs.ReportBrokenError"
    doomed = [entry for entry in mine.values() if entry["display_class"] == "DoomedReportJob"]
    assert sorted(entry["args"] for entry in doomed) == [[200], [201]]
    assert all(entry["retry_count"] == 0 for entry in doomed)
    assert {entry["error_message"] for entry in doomed} == {
        "report 200 can never be built",
        "report 201 can never be built",
    }


def test_processes_agree(scene: Scene, ruby: RubyConsole, api_client: redis.Redis) -> None:
    theirs = {process["identity"]: process for process in ruby.run("InteropSnapshots.processes")}
    mine = {process.identity: process for process in api.ProcessSet(api_client).all()}

    assert set(theirs) == set(mine) == set(scene.identities)
    for worker, identity in zip(scene.workers, scene.identities, strict=True):
        sidekiq, process = theirs[identity], mine[identity]
        assert sidekiq["hostname"] == process.hostname == socket.gethostname()
        assert sidekiq["pid"] == process.pid == worker.pid
        assert sidekiq["queues"] == process.queues
        assert sidekiq["concurrency"] == process.concurrency
        assert sidekiq["tag"] == process.tag
        assert sidekiq["labels"] == process.labels
        assert sidekiq["quiet"] is process.quiet is False
        assert sidekiq["started_at"] == process.started_at
    first, second = (theirs[identity] for identity in scene.identities)
    assert (first["queues"], first["concurrency"], first["tag"]) == (["reports"], 3, "interop-a")
    assert (second["queues"], second["concurrency"]) == (["reports", "critical"], 2)
    assert sum(process["busy"] for process in theirs.values()) == 1
    assert sum(process.busy for process in mine.values()) == 1


def test_running_jobs_agree(scene: Scene, ruby: RubyConsole, api_client: redis.Redis) -> None:
    theirs = ruby.run("InteropSnapshots.work")
    mine = api.ProcessSet(api_client).work()

    assert len(theirs) == len(mine) == 1
    sidekiq, work = theirs[0], mine[0]
    assert sidekiq["jid"] == work.job.jid == scene.held_jid
    assert sidekiq["identity"] == work.identity
    assert sidekiq["thread"] == work.thread
    assert sidekiq["queue"] == work.queue == "reports"
    assert sidekiq["run_at"] == work.run_at
    assert sidekiq["display_class"] == work.job.display_class == "HeldReportJob"
    assert sidekiq["display_args"] == work.job.display_args == [600, 120.0]


def test_a_vanished_process_counts_for_sidekiqs_stats_until_its_cleanup(
    scene: Scene, ruby: RubyConsole, store: redis.Redis, api_client: redis.Redis
) -> None:
    """A deliberate difference: Sidekiq's Stats#processes_size is SCARD of `processes`,
    stale members included until a ProcessSet cleanup; ours counts live heartbeats."""
    store.sadd("processes", "gone-host:1:000000000000")  # its hash expired long ago
    try:
        assert ruby.run("Sidekiq::Stats.new.processes_size") == 3
        assert api.Stats(api_client).snapshot().processes == 2
        assert len(ruby.run("InteropSnapshots.processes")) == 2  # ProcessSet.new cleans up
        assert ruby.run("Sidekiq::Stats.new.processes_size") == 2
    finally:
        store.srem("processes", "gone-host:1:000000000000")


def test_sidekiqmon_reports_our_processes_and_counts(scene: Scene, redis_url: str) -> None:
    """Debian's `sidekiqmon` (Sidekiq's terminal status tool) reads our data too."""
    binary = shutil.which("sidekiqmon")
    assert binary is not None, "sidekiqmon ships with ruby-sidekiq"
    result = subprocess.run(
        [binary],
        env={**os.environ, "REDIS_URL": redis_url},
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    out = result.stdout

    assert f"Processed: {SUCCEEDED + RETRYING + DOOMED}" in out
    assert f"Failed: {RETRYING + DOOMED}" in out
    assert f"Dead: {DOOMED + 1}" in out
    assert "Processes (2)" in out
    for identity in scene.identities:
        assert identity in out
    assert "[interop-a]" in out  # our tag
    assert "Threads: 3 (" in out and "Threads: 2 (" in out
    assert re.search(r"Queues:\s+critical, reports", out)
    assert re.search(r"backlog\s+3\s+\d", out)
