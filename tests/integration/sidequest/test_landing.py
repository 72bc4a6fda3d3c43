"""Jobs that land at an idle worker (runtime/landing.py) end as fetched ones do.

An idle worker's queue waiters BLMOVE a job into its landing list and a processor
starts it before it is in the in-flight hash. Whatever the job's outcome, the
landing list and the in-flight hash must be empty afterwards, with the counters,
locks and sets as for a fetched job.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import pytest
import redis

from sidequest import keys, payload
from sidequest.config import build_settings
from sidequest.runtime.fetched import Fetched, Holding
from sidequest.runtime.launcher import Launcher
from tests.integration.sidequest import fixture_jobs as jobs
from tests.support.polling import wait_for
from tests.support.worker_process import WorkerProcess

Start = Callable[..., WorkerProcess]


def idle_worker(redis_client: redis.Redis, start_worker: Start, redis_url: str) -> str:
    """Start a worker and wait until its queue waiter blocks; returns its identity."""
    start_worker(redis_url, "-c", "2")
    identity = str(
        wait_for(lambda: redis_client.smembers(keys.PROCESSES), message="heartbeat").pop()
    )
    wait_for(
        lambda: any(client.get("cmd") == "blmove" for client in redis_client.client_list()),
        message="the queue waiter to block",
    )
    return identity


def assert_nothing_held(redis_client: redis.Redis, identity: str) -> None:
    wait_for(
        lambda: not redis_client.exists(keys.inflight(identity), keys.landing(identity)),
        message="the in-flight hash and the landing list to empty",
    )


def test_a_job_landing_at_an_idle_worker_runs_once_and_is_acknowledged(
    enqueue_to: str, redis_client: redis.Redis, start_worker: Start
) -> None:
    identity = idle_worker(redis_client, start_worker, enqueue_to)
    job = jobs.RecordJob.perform_later(1)

    wait_for(lambda: redis_client.lrange("test:runs", 0, -1) == [job.jid], message="one run")
    assert_nothing_held(redis_client, identity)
    wait_for(lambda: redis_client.get(keys.STAT_PROCESSED) == "1", message="counted")


def test_a_landed_job_that_fails_goes_to_retry_once_adopted(
    enqueue_to: str, redis_client: redis.Redis, start_worker: Start
) -> None:
    identity = idle_worker(redis_client, start_worker, enqueue_to)
    job = jobs.AlwaysFailsJob.perform_later(3)

    entries = wait_for(lambda: redis_client.zrange("retry", 0, -1), message="retry entry")
    assert [json.loads(entry)["jid"] for entry in entries] == [job.jid]
    assert_nothing_held(redis_client, identity)
    assert redis_client.get(keys.STAT_FAILED) == "1"
    assert redis_client.get(keys.STAT_PROCESSED) == "1"


def test_a_landed_unique_job_releases_its_lock_once_it_succeeded(
    enqueue_to: str, redis_client: redis.Redis, start_worker: Start
) -> None:
    identity = idle_worker(redis_client, start_worker, enqueue_to)
    job = jobs.UniqueReportJob.perform_later(9)
    assert redis_client.keys(keys.unique_lock("*"))

    wait_for(lambda: redis_client.lrange("test:runs", 0, -1) == [f"{job.jid}:9"], message="run")
    assert_nothing_held(redis_client, identity)
    wait_for(lambda: not redis_client.keys(keys.unique_lock("*")), message="the lock released")


def test_a_recovered_job_adopted_while_it_runs_leaves_no_start_marker(
    enqueue_to: str, redis_client: redis.Redis, start_worker: Start
) -> None:
    identity = idle_worker(redis_client, start_worker, enqueue_to)
    redis_client.set("test:hold", "1")
    job = payload.build(jobs.SlowJob.job_name, [1])
    job["enqueued_at"] = time.time()
    job["recoveries"] = 1  # it ran in a process that died once
    redis_client.lpush(keys.queue("default"), json.dumps(job))

    # Adopted while it runs: exchange.lua gives it a start marker beside its field.
    fields = wait_for(
        lambda: (
            len(redis_client.hkeys(keys.inflight(identity))) == 2
            and redis_client.hkeys(keys.inflight(identity))
        ),
        message="the running job adopted with its start marker",
    )
    assert len([field for field in fields if keys.marked_field(field) is not None]) == 1
    redis_client.delete("test:hold")

    wait_for(lambda: redis_client.lrange("test:done", 0, -1) == [job["jid"]], message="done")
    assert_nothing_held(redis_client, identity)


def test_a_job_left_in_a_live_workers_landing_list_runs_once(
    redis_url: str, redis_client: redis.Redis, start_worker: Start
) -> None:
    # The state a waiter leaves when its BLMOVE reply is lost: the job is in the
    # landing list and the process never heard of it.
    identity = idle_worker(redis_client, start_worker, redis_url)
    job = payload.build(jobs.RecordJob.job_name, [1])
    job["enqueued_at"] = time.time()
    redis_client.lpush(keys.landing(identity), json.dumps(job))

    # FAST_HEARTBEAT's heartbeat timeout is 1.5 s: a suspect at one look, run at the next.
    wait_for(
        lambda: redis_client.lrange("test:runs", 0, -1) == [job["jid"]],
        timeout=10,
        message="the stranded job to run",
    )
    assert_nothing_held(redis_client, identity)
    time.sleep(1.5)  # another reconcile: it must not run again
    assert redis_client.lrange("test:runs", 0, -1) == [job["jid"]]


def test_a_landed_job_whose_hand_over_waits_on_redis_is_not_also_run_as_stranded(
    redis_url: str, redis_client: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A waiter asks Redis whether the queue of the job it landed was paused before it
    hands the job to the processors. That question can wait for a socket timeout (a
    connection stalled by a network cut or a failover) while the fetcher, on another
    connection, looks at the landing list twice a second apart: the job must not be
    taken for stranded and dispatched a second time, to run in two threads at once."""
    settings = build_settings(
        environ={}, overrides={"redis_url": redis_url, "queues": ["landing"], "concurrency": 2}
    )
    # Not started: the test plays the waiter and the fetcher's reconcile itself.
    launcher = Launcher(settings)
    raw = payload.encode(payload.build(jobs.RecordJob.job_name, [1], queue="landing"))
    redis_client.lpush(keys.queue("landing"), raw)
    redis_client.lmove(keys.queue("landing"), launcher.inflight.landing_key, "RIGHT", "LEFT")
    asked = launcher.control.store.is_paused

    def slow_answer(queue: str) -> bool:
        for _ in range(2):
            launcher.fetcher._reconcile_inflight()
        return asked(queue)

    monkeypatch.setattr(launcher.control.store, "is_paused", slow_answer)
    launcher.landed(Fetched("", "landing", raw.encode(), Holding.LANDED))

    dispatched = launcher.manager.take_unstarted()
    assert [job.raw for job in dispatched] == [raw.encode()], "dispatched once"
    # Nothing is left suspect: the next look does not run it either.
    launcher.fetcher._reconcile_inflight()
    assert launcher.manager.take_unstarted() == []
    launcher.redis.close()
