"""Crashes, graceful shutdown, Redis restarts and configuration of real worker processes."""

from __future__ import annotations

import json
import signal
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path

import redis

from sidequest import keys
from tests.integration.sidequest import fixture_jobs as jobs
from tests.support.polling import wait_for
from tests.support.redis_server import RedisServer
from tests.support.worker_process import WorkerProcess

Start = Callable[..., WorkerProcess]


def test_jobs_in_flight_in_a_killed_worker_complete_in_another(
    enqueue_to: str, redis_client: redis.Redis, start_worker: Start
) -> None:
    redis_client.set("test:hold", 1)
    # 100 threads + 100 prefetched: the doomed process holds up to 200 jobs at once.
    doomed = start_worker(
        enqueue_to, "-c", "100", "--log-level", "WARNING", env={"SIDEQUEST_PREFETCH": "100"}
    )
    identity = wait_for(lambda: redis_client.smembers("processes"), message="heartbeat").pop()
    # First, jobs it completes and acknowledges before it dies.
    acked = jobs.PidJob.perform_bulk([[n, False] for n in range(40)])
    wait_for(lambda: redis_client.get("stat:processed") == "40", message="40 acknowledged")
    # Then jobs that hold its 100 threads and fill its buffer, and 50 it cannot take.
    held = jobs.PidJob.perform_bulk([[n, True] for n in range(250)])

    def settled() -> bool:
        return (
            redis_client.hlen(keys.inflight(identity)) == 200
            and redis_client.llen(keys.landing(identity)) == 0
            and redis_client.llen("test:starts") == 140
            and redis_client.llen("queue:default") == 50
        )

    wait_for(settled, timeout=20, message="200 in flight, 100 running, 50 queued")
    # Every thread waits on `test:hold` and the buffer is full: nothing moves until the kill.
    at_kill = {json.loads(raw)["jid"] for raw in redis_client.hvals(keys.inflight(identity))}
    queued = {json.loads(raw)["jid"] for raw in redis_client.lrange("queue:default", 0, -1)}
    assert len(at_kill) == 200 and at_kill | queued == set(held)

    doomed.kill()
    redis_client.delete("test:hold")
    survivor = start_worker(enqueue_to, "-c", "20", "--log-level", "WARNING")

    def drained() -> bool:
        return (
            redis_client.llen("test:finishes") >= 290
            and redis_client.llen("queue:default") == 0
            and not redis_client.exists(keys.inflight(identity))
            and not any(redis_client.hlen(key) for key in redis_client.keys("sidequest:inflight:*"))
            and not any(redis_client.llen(key) for key in redis_client.keys("sidequest:landing:*"))
        )

    wait_for(drained, timeout=30, message="every job done and nothing left in flight")
    # Nothing is left that could run again: the counts below are final.
    assert redis_client.zcard("retry") == redis_client.zcard("schedule") == 0
    assert redis_client.zcard("dead") == 0
    finishes = [entry.split() for entry in redis_client.lrange("test:finishes", 0, -1)]
    starts = Counter(entry.split()[1] for entry in redis_client.lrange("test:starts", 0, -1))
    completions = Counter(jid for _, jid in finishes)
    by_pid: dict[int, Counter[str]] = defaultdict(Counter)
    for pid, jid in finishes:
        by_pid[int(pid)][jid] += 1
    # Each job completed exactly once, except those in flight at the kill: at most twice
    # (once in the dead process, once recovered).
    for jid in acked + held:
        allowed = 2 if jid in at_kill else 1
        assert 1 <= completions[jid] <= allowed, f"{jid} completed {completions[jid]} times"
    # Here the dead process could finish none of those (they waited on `test:hold`), so
    # each completed exactly once, and where: the acknowledged jobs in the dead process
    # and never again, every other job in the survivor.
    assert by_pid[doomed.pid] == Counter(acked)
    assert by_pid[survivor.pid] == Counter(held)
    assert set(by_pid) == {doomed.pid, survivor.pid}
    assert all(starts[jid] == 1 for jid in acked), "an acknowledged job ran again"
    assert identity not in redis_client.smembers(keys.OWNERS)


def test_sigterm_requeues_unfinished_jobs_at_the_front_and_loses_none(
    enqueue_to: str, redis_client: redis.Redis, start_worker: Start
) -> None:
    redis_client.set("test:hold", 1)
    quick = [jobs.QuickJob.perform_later(0.3).jid for _ in range(2)]
    stuck = [jobs.SlowJob.perform_later(n).jid for n in range(2)]
    waiting = [jobs.QuickJob.perform_later(0).jid for _ in range(6)]
    worker = start_worker(enqueue_to, "-c", "4", "-t", "1.5")
    wait_for(lambda: redis_client.llen("test:started") == 4, message="4 jobs running")

    worker.signal(signal.SIGTERM)
    assert worker.wait(15) == 0

    # The quick ones finished inside the timeout and were acknowledged once.
    assert sorted(redis_client.lrange("test:done", 0, -1)) == sorted(quick)
    # The stuck ones are back at the front (right end), followed by the never-started ones.
    queued = [json.loads(entry)["jid"] for entry in redis_client.lrange("queue:default", 0, -1)]
    assert sorted(queued[-2:]) == sorted(stuck)
    assert sorted(queued) == sorted(stuck + waiting)
    assert not redis_client.smembers("processes")
    assert not redis_client.keys("sidequest:inflight:*")

    redis_client.delete("test:hold")
    start_worker(enqueue_to, "-c", "4")
    wait_for(lambda: redis_client.llen("test:done") == 10, timeout=20, message="all done")
    done = redis_client.lrange("test:done", 0, -1)
    assert sorted(done) == sorted(quick + stuck + waiting)  # each finished exactly once


def test_scheduled_jobs_start_on_time_even_when_an_earlier_one_is_added_later(
    enqueue_to: str, redis_client: redis.Redis, start_worker: Start
) -> None:
    start_worker(enqueue_to)
    wait_for(lambda: redis_client.smembers("processes"), message="worker up")
    due_later = time.time() + 2.0
    jobs.StartTimeJob.perform_at(due_later, "later")
    due_sooner = time.time() + 1.0
    jobs.StartTimeJob.perform_at(due_sooner, "sooner")

    started = wait_for(
        lambda: redis_client.hlen("test:started") == 2 and redis_client.hgetall("test:started"),
        timeout=10,
        message="both started",
    )
    for label, due in (("sooner", due_sooner), ("later", due_later)):
        lateness = float(started[label]) - due
        assert 0 <= lateness < 0.05, f"{label} started {lateness * 1000:.1f} ms after its due time"


def test_the_worker_survives_a_redis_restart_and_finishes_the_queue(
    own_redis_server: RedisServer, start_worker: Start, tmp_path: Path
) -> None:
    import sidequest
    from sidequest.adapter import set_adapter

    # The jobs record themselves in a second Redis, which stays up throughout.
    witness = RedisServer(tmp_path / "witness")
    witness.start()
    record = witness.client()
    try:
        url = own_redis_server.url
        client = own_redis_server.client()
        client.config_set("appendfsync", "always")
        record.set("test:hold", 1)
        sidequest.configure(url)
        try:
            first = jobs.QuickJob.perform_bulk([[0.002] for _ in range(100)])
            # These two take both threads until `test:hold` goes: nothing after them can
            # finish while Redis is down.
            stuck = jobs.SlowJob.perform_bulk([[0], [1]])
            rest = jobs.QuickJob.perform_bulk([[0.002] for _ in range(500)])
        finally:
            set_adapter(None)
        worker = start_worker(
            url, "-c", "2", "--log-level", "WARNING", env={"TEST_REDIS_URL": witness.url}
        )
        wait_for(
            lambda: (
                set(stuck) <= set(record.lrange("test:started", 0, -1))
                and client.get("stat:processed") == "100"
            ),
            timeout=20,
            message="the first 100 jobs acknowledged and both threads held",
        )
        pending = _jobs_waiting(client)
        assert pending == set(stuck + rest)
        identity = client.smembers("processes").pop()

        own_redis_server.stop(kill=True)
        # Down long enough for the worker's own retries to fail, not just a blip.
        wait_for(
            lambda: "heartbeat: Redis error" in worker.log(),
            message="the worker to find Redis gone",
        )
        own_redis_server.start()
        restarted = time.time()
        client = own_redis_server.client()
        # No job can finish until the hold goes: what Redis holds now is what it held
        # when it died (fetches and requeues only move jobs between queue and in flight).
        assert _jobs_waiting(client) == pending
        wait_for(
            lambda: float(client.hget(keys.process(identity), "beat") or 0) > restarted,
            message="the worker to beat again after the restart",
        )

        record.delete("test:hold")
        wait_for(
            lambda: (
                record.llen("test:done") >= 602
                and not _jobs_waiting(client)
                and not any(client.hlen(key) for key in client.keys("sidequest:inflight:*"))
            ),
            timeout=30,
            message="every job done after the restart",
        )
        done = Counter(record.lrange("test:done", 0, -1))
        assert done == Counter(first + stuck + rest), "a job was lost or ran twice"
        assert client.zcard("retry") == client.zcard("dead") == 0
        assert client.get("stat:processed") == "602"
        assert worker.running()
    finally:
        record.close()
        witness.stop()


def _jobs_waiting(client: redis.Redis) -> set[str]:
    """The jids in every queue, in-flight hash and landing list."""
    raws: list[str] = list(client.lrange("queue:default", 0, -1))
    for key in client.keys("sidequest:inflight:*"):
        raws += [
            raw
            for field, raw in client.hgetall(key).items()
            if ":" in field and not field.startswith("started:")
        ]
    for key in client.keys("sidequest:landing:*"):
        raws += client.lrange(key, 0, -1)
    return {json.loads(raw)["jid"] for raw in raws}


def test_a_job_past_its_timeout_is_stopped_and_retried_while_others_run(
    enqueue_to: str, redis_client: redis.Redis, start_worker: Start
) -> None:
    looping = jobs.BusyLoopTimeoutJob.perform_later()
    # Blocked in C for 6 s: abandoned at 1.5 s (timeout 0.5 s, grace 1 s), wakes at 6 s.
    sleeping = jobs.SleepTimeoutJob.perform_later(6.0)
    worker = start_worker(enqueue_to, "-c", "4")
    wait_for(lambda: redis_client.llen("test:started") == 2, message="both started")
    neighbours = jobs.RecordJob.perform_bulk([[n] for n in range(20)])

    wait_for(lambda: redis_client.zcard("retry") == 2, timeout=10, message="both in retry")
    entries = {json.loads(m)["jid"]: json.loads(m) for m in redis_client.zrange("retry", 0, -1)}
    for job in (looping, sleeping):
        assert entries[job.jid]["error_class"] == "sidequest.errors.JobTimeoutError"
        assert "timeout of 0.5s" in entries[job.jid]["error_message"]
    assert "abandoned" in entries[sleeping.jid]["error_message"]
    wait_for(
        lambda: set(redis_client.lrange("test:runs", 0, -1)) == set(neighbours),
        message="neighbours ran",
    )

    # The process keeps its full concurrency while the abandoned thread is still stuck:
    # four jobs that each wait for all four to be running at once need four threads,
    # which the three left beside the stuck one could not give them.
    together = jobs.BarrierJob.perform_bulk([[4] for _ in range(4)])
    wait_for(
        lambda: redis_client.llen("test:barrier") + redis_client.llen("test:gave-up") == 4,
        timeout=10,
        message="the four barrier jobs to finish",
    )
    assert not redis_client.lrange("test:gave-up", 0, -1), "fewer than four threads ran them"
    assert sorted(redis_client.lrange("test:barrier", 0, -1)) == sorted(together)
    assert not redis_client.lrange("test:woke", 0, -1), "the stuck thread woke too early"

    # When its sleep returns, the abandoned thread stops there: the timeout raised into it
    # lands, and the job's code after the blocking call never runs.
    wait_for(
        lambda: redis_client.lrange("test:woke", 0, -1) == [sleeping.jid],
        timeout=10,
        message="the abandoned thread's sleep to return",
    )
    assert not redis_client.lrange("test:after-sleep", 0, -1)
    assert worker.running()


def test_two_concurrent_enqueues_of_a_unique_job_run_it_once(
    enqueue_to: str, redis_client: redis.Redis, start_worker: Start
) -> None:
    import threading

    barrier = threading.Barrier(2)
    results: list[jobs.UniqueReportJob] = []

    def enqueue() -> None:
        barrier.wait()
        results.append(jobs.UniqueReportJob.perform_later(42))

    threads = [threading.Thread(target=enqueue) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    winners = [job for job in results if job.successfully_enqueued]
    losers = [job for job in results if not job.successfully_enqueued]
    assert len(winners) == 1 and len(losers) == 1
    assert losers[0].duplicate_of == winners[0].jid

    start_worker(enqueue_to)
    wait_for(lambda: redis_client.llen("test:runs") == 1, message="one run")
    wait_for(lambda: not redis_client.keys("sidequest:unique:*"), message="lock released")
    assert redis_client.lrange("test:runs", 0, -1) == [f"{winners[0].jid}:42"]
    # Once it finished, the same job may be enqueued again.
    assert jobs.UniqueReportJob.perform_later(42).successfully_enqueued


def test_a_sidekiq_yml_configures_the_worker(
    enqueue_to: str, redis_client: redis.Redis, start_worker: Start, tmp_path: Path
) -> None:
    config = tmp_path / "sidekiq.yml"
    config.write_text(":concurrency: 5\n:queues:\n  - default\n  - mailers\n  - [critical, 3]\n")
    start_worker(enqueue_to, "-C", str(config))
    identity = wait_for(lambda: redis_client.smembers("processes"), message="heartbeat").pop()
    process = redis_client.hgetall(identity)
    info = json.loads(process["info"])
    assert process["concurrency"] == "5"
    assert info["concurrency"] == 5
    assert info["queues"] == ["default", "mailers", "critical"]
    assert info["weights"] == [{"default": 0, "mailers": 0, "critical": 3}]
    assert info["capsules"]["default"]["mode"] == "weighted"

    for queue in ("default", "mailers", "critical"):
        jobs.RecordJob.set(queue=queue).perform_later(1)
    wait_for(lambda: redis_client.llen("test:runs") == 3, message="a job from each queue")


def test_a_frozen_worker_loses_its_jobs_to_another_and_its_late_acks_are_refused(
    enqueue_to: str, redis_client: redis.Redis, start_worker: Start
) -> None:
    redis_client.set("test:hold", 1)
    jids = jobs.SlowJob.perform_bulk([[n] for n in range(10)])
    frozen = start_worker(enqueue_to, "-c", "10")
    wait_for(
        lambda: redis_client.llen("test:started") == 10, message="10 started in the first worker"
    )
    frozen.signal(signal.SIGSTOP)
    try:
        start_worker(enqueue_to, "-c", "10")
        # Its lease expires (1.5 s), the second worker recovers the jobs and starts them.
        wait_for(
            lambda: redis_client.llen("test:started") == 20, timeout=15, message="jobs recovered"
        )
        redis_client.delete("test:hold")
        wait_for(lambda: redis_client.get("stat:processed") == "10", message="second worker done")
    finally:
        frozen.signal(signal.SIGCONT)

    # The first worker finishes its stale copies too, but its acks are refused.
    wait_for(lambda: redis_client.llen("test:done") == 20, message="stale copies finished")
    wait_for(lambda: "refused" in frozen.log(), message="refusal logged")
    assert redis_client.get("stat:processed") == "10"
    assert sorted(set(redis_client.lrange("test:done", 0, -1))) == sorted(jids)
    # It rejoins cleanly: beats again, holds nothing stale, and takes new work.
    assert frozen.running()
    wait_for(lambda: len(redis_client.smembers("processes")) == 2, message="both processes listed")
    more = jobs.RecordJob.perform_bulk([[n] for n in range(20)])
    wait_for(lambda: set(redis_client.lrange("test:runs", 0, -1)) == set(more), message="new jobs")
    # A job records its run before its acknowledgement is written: wait for the ack.
    inflight = "sidequest:inflight:*"
    wait_for(
        lambda: not any(redis_client.hlen(key) for key in redis_client.keys(inflight)),
        message="nothing stale left in flight",
    )


def test_a_job_that_kills_its_process_ends_in_dead_as_a_poison_pill(
    enqueue_to: str, redis_client: redis.Redis, start_worker: Start
) -> None:
    pill = jobs.CrashesItsProcessJob.perform_later()
    others = jobs.RecordJob.perform_bulk([[n] for n in range(30)])
    env = {"SIDEQUEST_MAX_RECOVERIES": "2"}

    # Restart the worker whenever it dies, as supervisord would.
    deadline = time.monotonic() + 60
    worker = start_worker(enqueue_to, "-c", "1", env=env)
    while not redis_client.zcard("dead"):
        assert time.monotonic() < deadline, "the poison pill never reached the dead set"
        if not worker.running():
            worker = start_worker(enqueue_to, "-c", "1", env=env)
        time.sleep(0.05)

    entry = json.loads(redis_client.zrange("dead", 0, -1)[0])
    assert entry["jid"] == pill.jid
    assert entry["error_class"] == "sidequest.errors.PoisonPillError"
    assert redis_client.get("test:crashes") == "3"  # the first run and two recoveries
    wait_for(
        lambda: set(redis_client.lrange("test:runs", 0, -1)) == set(others),
        timeout=20,
        message="the rest of the queue",
    )
    assert worker.running()
