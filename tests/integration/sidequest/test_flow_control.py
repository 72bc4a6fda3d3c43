"""Queue pausing and job cancelling with real worker processes and the real CLI.

A paused queue is not fetched from, by any process, from the next fetch on; running
jobs finish, enqueues still land, a resume takes effect at once. A cancelled job is
removed wherever it waits, stops when it runs (or is abandoned after timeout_grace),
and never runs again, not even after the crash of the worker that ran it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import redis

from sidequest import api, keys
from tests.integration.sidequest import flow_jobs as jobs
from tests.support.polling import wait_for
from tests.support.worker_process import WorkerProcess

Start = Callable[..., WorkerProcess]
ROOT = Path(__file__).resolve().parents[3]
FLOW_JOBS = "tests.integration.sidequest.flow_jobs"
EX_USAGE = 2


def sidequest(redis_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """`python -m sidequest ARGS` against `redis_url`, as a person runs it."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SIDEQUEST_")}
    environment.update(PYTHONPATH=str(ROOT), REDIS_URL=redis_url)
    return subprocess.run(
        [sys.executable, "-m", "sidequest", *args],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def stays(condition: Callable[[], bool], seconds: float, message: str) -> None:
    """Assert that `condition` holds at every look for `seconds` (a bounded watch)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert condition(), message
        time.sleep(0.02)


def flow_count(client: redis.Redis, name: str) -> int:
    return int(client.hget(keys.FLOW_STATS, name) or 0)


def worker_up(client: redis.Redis) -> set[str]:
    """The identities in `processes` once there is one."""
    members = wait_for(lambda: client.smembers(keys.PROCESSES), timeout=20, message="heartbeat")
    return {str(member) for member in members}


# -- pausing ---------------------------------------------------------------------------


def test_a_paused_queue_starts_nothing_until_resumed_then_everything_at_once(
    enqueue_to: str, redis_client: redis.Redis, start_worker: Start
) -> None:
    # Two processes, idle: each has a queue waiter blocked on queue:default when the
    # pause comes, the hardest case (a blocked BLMOVE cannot see the pause).
    for _ in range(2):
        start_worker(enqueue_to, "-c", "5", requires=[FLOW_JOBS])
    wait_for(lambda: len(redis_client.smembers(keys.PROCESSES)) == 2, timeout=20, message="2 up")
    jobs.Recorded.perform_later("warm-up")
    wait_for(lambda: redis_client.llen("test:starts") == 1, message="the warm-up job ran")

    paused = sidequest(enqueue_to, "queues", "pause", "default")
    assert paused.returncode == 0, paused.stderr
    assert "paused default" in paused.stdout
    labels = [f"job-{n}" for n in range(10)]
    for label in labels:
        jobs.Recorded.perform_later(label)
    # Enqueues still land. A waiter blocked since before the pause may take one; the
    # worker puts it back at the front of the queue at once, unstarted.
    wait_for(lambda: redis_client.llen("queue:default") == 10, message="10 queued")

    stays(
        lambda: redis_client.llen("test:starts") == 1,
        3.0,
        "a job of a paused queue started",
    )
    assert redis_client.llen("queue:default") == 10
    stats = sidequest(enqueue_to, "stats")
    assert "Paused queues  default" in stats.stdout
    assert any(
        line.split()[0] == "default" and line.endswith("paused")
        for line in stats.stdout.splitlines()
        if line.strip()
    ), stats.stdout

    # Through the api here, to time the workers rather than the CLI's start-up.
    resumed_at = time.monotonic()
    assert api.QueuePauses(redis_client).resume("default")
    wait_for(lambda: redis_client.llen("test:starts") == 11, timeout=10, message="all 10 ran")
    took = time.monotonic() - resumed_at
    print(f"resume to last start: {took:.3f}s")
    # At once: the announcement wakes the idle fetchers and waiters, well before the
    # fetcher's 2 s idle poll would have found the jobs.
    assert took < 1.9, f"the resume took {took:.2f}s to start every job"
    assert sorted(redis_client.lrange("test:starts", 1, -1)) == sorted(labels)
    assert redis_client.llen("queue:default") == 0
    assert not redis_client.smembers(keys.PAUSED)


def test_pausing_one_queue_leaves_the_others_running(
    enqueue_to: str, redis_client: redis.Redis, start_worker: Start
) -> None:
    start_worker(enqueue_to, "-c", "3", "-q", "low", "-q", "default", requires=[FLOW_JOBS])
    worker_up(redis_client)
    api.QueuePauses(redis_client).pause("low")
    jobs.Recorded.set(queue="low").perform_later("low")
    jobs.Recorded.perform_later("default")
    wait_for(lambda: redis_client.lrange("test:starts", 0, -1) == ["default"], message="default")
    stays(lambda: redis_client.llen("test:starts") == 1, 1.0, "the paused queue's job ran")
    api.QueuePauses(redis_client).resume("low")
    wait_for(lambda: redis_client.llen("test:starts") == 2, message="the low job after resume")


def test_queue_commands_refuse_bad_names(redis_url: str) -> None:
    for bad in ("", "two words", "tab\there"):
        result = sidequest(redis_url, "queues", "pause", bad)
        assert result.returncode == EX_USAGE, (bad, result.stdout, result.stderr)
        assert "queue name" in result.stderr
    assert sidequest(redis_url, "queues", "resume", "").returncode == EX_USAGE


def test_queues_list_shows_paused_queues_even_before_their_first_job(
    redis_url: str, redis_client: redis.Redis
) -> None:
    assert sidequest(redis_url, "queues", "pause", "later").returncode == 0
    again = sidequest(redis_url, "queues", "pause", "later")
    assert again.returncode == 0 and "paused already" in again.stdout
    listed = json.loads(sidequest(redis_url, "queues", "list", "--json").stdout)
    assert listed == [{"name": "later", "size": 0, "latency": 0.0, "paused": True}]
    assert redis_client.smembers("paused") == {"later"}  # Sidekiq Pro's key
    resumed = sidequest(redis_url, "queues", "resume", "later")
    assert resumed.returncode == 0 and "resumed later" in resumed.stdout
    assert "was not paused" in sidequest(redis_url, "queues", "resume", "later").stdout
    assert not redis_client.exists("paused")


# -- cancelling ------------------------------------------------------------------------


def test_cancel_removes_a_queued_a_scheduled_and_a_retrying_job_and_none_runs(
    enqueue_to: str, redis_client: redis.Redis, start_worker: Start
) -> None:
    queued = jobs.Recorded.perform_later("queued").jid
    scheduled = jobs.Recorded.perform_in(60, "scheduled").jid
    start_worker(enqueue_to, "-c", "2", "-q", "failing", requires=[FLOW_JOBS])
    retrying = jobs.Failing.set(queue="failing").perform_later("retrying").jid
    wait_for(lambda: redis_client.zcard(keys.RETRY) == 1, timeout=20, message="in retry")

    outputs = {}
    for jid in (queued, scheduled, retrying):
        result = sidequest(enqueue_to, "cancel", jid)
        assert result.returncode == 0, result.stderr
        outputs[jid] = result.stdout
    assert "removed from queue:default" in outputs[queued]
    assert "removed from schedule" in outputs[scheduled]
    assert "removed from retry" in outputs[retrying]
    assert redis_client.llen("queue:default") == 0
    assert redis_client.zcard(keys.SCHEDULE) == redis_client.zcard(keys.RETRY) == 0
    assert flow_count(redis_client, "cancelled") == 3

    # A worker of `default` now, and a job after them: it runs, the cancelled ones never.
    start_worker(enqueue_to, "-c", "2", requires=[FLOW_JOBS])
    jobs.Recorded.perform_later("after")
    wait_for(lambda: "after" in redis_client.lrange("test:starts", 0, -1), message="after ran")
    assert redis_client.lrange("test:starts", 0, -1) == ["retrying", "after"]


def test_a_running_job_that_checks_stops_and_is_neither_retried_nor_dead(
    enqueue_to: str, redis_client: redis.Redis, start_worker: Start
) -> None:
    worker = start_worker(enqueue_to, "-c", "2", requires=[FLOW_JOBS])
    jid = jobs.Checking.perform_later().jid
    wait_for(lambda: redis_client.llen("test:starts") == 1, timeout=20, message="running")

    result = sidequest(enqueue_to, "cancel", jid)

    assert result.returncode == 0, result.stderr
    assert "running in" in result.stdout
    wait_for(lambda: redis_client.lrange("test:saw-cancel", 0, -1) == [jid], message="it saw it")
    wait_for(lambda: flow_count(redis_client, "cancelled") == 1, message="counted")
    wait_for(
        lambda: not any(redis_client.hlen(k) for k in redis_client.keys("sidequest:inflight:*"))
    )
    assert redis_client.zcard(keys.RETRY) == redis_client.zcard(keys.DEAD) == 0
    assert not redis_client.exists(keys.STAT_FAILED)
    assert not redis_client.exists("test:finishes")
    worker.line_with(jid, "cancelled")


def test_a_running_job_that_never_checks_is_abandoned_after_timeout_grace(
    enqueue_to: str, redis_client: redis.Redis, start_worker: Start
) -> None:
    # One thread: the job after the abandoned one can only run on its replacement.
    worker = start_worker(
        enqueue_to, "-c", "1", env={"SIDEQUEST_TIMEOUT_GRACE": "1"}, requires=[FLOW_JOBS]
    )
    jid = jobs.Ignoring.perform_later(60).jid
    wait_for(lambda: redis_client.llen("test:starts") == 1, timeout=20, message="running")

    cancelled_at = time.monotonic()
    assert sidequest(enqueue_to, "cancel", jid).returncode == 0
    jobs.Recorded.perform_later("next")

    wait_for(
        lambda: "next" in redis_client.lrange("test:starts", 0, -1), timeout=15, message="next"
    )
    took = time.monotonic() - cancelled_at
    assert took >= 1.0, f"abandoned after {took:.2f}s, before timeout_grace"
    worker.line_with("abandoned a thread whose cancelled job did not stop")
    wait_for(lambda: flow_count(redis_client, "cancelled") == 1, message="counted")
    wait_for(
        lambda: not any(redis_client.hlen(k) for k in redis_client.keys("sidequest:inflight:*"))
    )
    assert redis_client.zcard(keys.RETRY) == redis_client.zcard(keys.DEAD) == 0
    assert not redis_client.exists("test:finishes")


def test_a_cancelled_job_never_runs_again_after_its_worker_crashed(
    enqueue_to: str, redis_client: redis.Redis, start_worker: Start
) -> None:
    # A grace longer than the test: the job is still running when its worker dies.
    doomed = start_worker(
        enqueue_to, "-c", "1", env={"SIDEQUEST_TIMEOUT_GRACE": "600"}, requires=[FLOW_JOBS]
    )
    identity = worker_up(redis_client).pop()
    jid = jobs.Ignoring.perform_later(600).jid
    wait_for(lambda: redis_client.llen("test:starts") == 1, timeout=20, message="running")
    assert sidequest(enqueue_to, "cancel", jid).returncode == 0
    doomed.kill()

    survivor = start_worker(enqueue_to, "-c", "2", requires=[FLOW_JOBS])
    # Recovered from the dead process's in-flight hash, fetched, and dropped unstarted.
    survivor.line_with(jid, "dropped: cancelled", timeout=30)
    wait_for(lambda: not redis_client.exists(keys.inflight(identity)), message="recovered")
    jobs.Recorded.perform_later("after")
    wait_for(lambda: "after" in redis_client.lrange("test:starts", 0, -1), message="after ran")
    assert redis_client.lrange("test:starts", 0, -1) == [jid, "after"]
    wait_for(lambda: flow_count(redis_client, "cancelled") == 1, message="counted once")
    assert redis_client.zcard(keys.RETRY) == redis_client.zcard(keys.DEAD) == 0


def test_a_cancelled_job_pushed_back_at_shutdown_is_dropped_by_the_next_worker(
    enqueue_to: str, redis_client: redis.Redis, start_worker: Start
) -> None:
    first = start_worker(
        enqueue_to,
        "-c",
        "1",
        "-t",
        "0.5",
        env={"SIDEQUEST_TIMEOUT_GRACE": "600"},
        requires=[FLOW_JOBS],
    )
    jid = jobs.Ignoring.perform_later(600).jid
    wait_for(lambda: redis_client.llen("test:starts") == 1, timeout=20, message="running")
    assert sidequest(enqueue_to, "cancel", jid).returncode == 0
    first.signal(signal.SIGTERM)
    assert first.wait(20) == 0
    assert [json.loads(raw)["jid"] for raw in redis_client.lrange("queue:default", 0, -1)] == [jid]

    second = start_worker(enqueue_to, "-c", "1", requires=[FLOW_JOBS])
    second.line_with(jid, "dropped: cancelled", timeout=20)
    assert redis_client.llen("queue:default") == 0
    assert redis_client.lrange("test:starts", 0, -1) == [jid]


def test_cancel_of_an_unknown_or_malformed_jid_says_so(
    redis_url: str, redis_client: redis.Redis
) -> None:
    unknown = sidequest(redis_url, "cancel", "0123456789abcdef01234567")
    assert unknown.returncode == 1
    assert "no job 0123456789abcdef01234567 is queued, scheduled, retrying or running" in (
        unknown.stderr
    )
    malformed = sidequest(redis_url, "cancel", "not a jid*")
    assert malformed.returncode == EX_USAGE
    assert "invalid jid" in malformed.stderr
    assert flow_count(redis_client, "cancelled") == 0


# -- expiry ----------------------------------------------------------------------------


def test_a_job_not_started_before_it_expires_is_dropped_counted_and_never_run(
    enqueue_to: str, redis_client: redis.Redis, start_worker: Start
) -> None:
    late = jobs.Expiring.set(expires_in=0.3).perform_later("late")
    jobs.Expiring.perform_later("fresh")  # the class's 30 s
    deadline = late.payload["expires_at"]
    wait_for(lambda: time.time() > deadline, message="the first job's deadline")

    worker = start_worker(enqueue_to, "-c", "2", requires=[FLOW_JOBS])

    wait_for(lambda: redis_client.lrange("test:starts", 0, -1) == ["fresh"], message="fresh ran")
    worker.line_with(late.jid, "dropped: expired")
    wait_for(lambda: flow_count(redis_client, "expired") == 1, message="counted")
    assert redis_client.llen("queue:default") == 0
    assert redis_client.zcard(keys.RETRY) == redis_client.zcard(keys.DEAD) == 0
    stats = json.loads(sidequest(enqueue_to, "stats", "--json").stdout)
    assert stats["flow_control"]["counts"]["expired"] == 1


# -- debounce --------------------------------------------------------------------------


def debounced_runs(client: redis.Redis) -> list[tuple[int, float]]:
    runs = [entry.split() for entry in client.lrange("test:debounced", 0, -1)]
    return [(int(value), float(at)) for value, at in runs]


def test_a_burst_of_debounced_enqueues_runs_once_with_the_last_arguments(
    enqueue_to: str, redis_client: redis.Redis, start_worker: Start
) -> None:
    start_worker(enqueue_to, "-c", "2", requires=[FLOW_JOBS])
    worker_up(redis_client)
    for value in range(5):
        jobs.Debounced.set(debounce=1, debounce_key="burst").perform_later(value)
    last_enqueue = time.time()

    wait_for(lambda: debounced_runs(redis_client), timeout=10, message="the debounced run")
    stays(lambda: len(debounced_runs(redis_client)) == 1, 1.5, "a replaced job ran too")
    [(value, started)] = debounced_runs(redis_client)
    assert value == 4
    assert started >= last_enqueue + 1.0 - 0.05, "started before the end of the window"
    assert flow_count(redis_client, "debounced") == 4


def test_a_steady_stream_of_debounced_enqueues_still_runs_at_the_cap(
    enqueue_to: str, redis_client: redis.Redis, start_worker: Start
) -> None:
    start_worker(enqueue_to, "-c", "2", requires=[FLOW_JOBS])
    worker_up(redis_client)
    window, cap, every, count = 0.6, 1.5, 0.2, 18
    first_enqueue = time.time()
    for value in range(count):
        jobs.Debounced.set(debounce=window, debounce_key="stream", debounce_max=cap).perform_later(
            value
        )
        time.sleep(every)  # pacing the stream: an enqueue every 0.2 s, inside the window
    stream_end = time.time()

    wait_for(
        lambda: debounced_runs(redis_client) and debounced_runs(redis_client)[-1][0] == count - 1,
        timeout=10,
        message="the run with the stream's last value",
    )
    runs = debounced_runs(redis_client)
    # Without the cap nothing would run before the stream ends; with it, a run every
    # cap seconds or so, each with the latest value enqueued before it.
    assert runs[0][1] < stream_end, f"nothing ran during the stream: {runs}"
    assert runs[0][1] - first_enqueue <= cap + 0.5, f"the first run missed the cap: {runs}"
    assert 2 <= len(runs) <= count // 3, runs
    values = [value for value, _ in runs]
    assert values == sorted(values) and len(set(values)) == len(values)
