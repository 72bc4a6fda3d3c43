"""Jobs with an `async def perform` in real worker processes: throughput on the event
loop, timeouts by cancellation, a loop blocked by synchronous code, callbacks and
context variables, async enqueue, and the delivery guarantees (SIGTERM, SIGKILL)."""

from __future__ import annotations

import json
import signal
import time
from collections import Counter
from collections.abc import Callable

import redis

from sidequest import api, keys
from sidequest.batches import Batch, chain
from tests.integration.sidequest import async_jobs
from tests.integration.sidequest import fixture_jobs as jobs
from tests.integration.sidequest.batches.batch_jobs import CallbackJob
from tests.support.polling import wait_for
from tests.support.worker_process import WorkerProcess

Start = Callable[..., WorkerProcess]
ASYNC_JOBS = ("tests.integration.sidequest.async_jobs",)


def _nothing_in_flight(client: redis.Redis) -> bool:
    return not any(client.hlen(key) for key in client.keys("sidequest:inflight:*")) and not any(
        client.llen(key) for key in client.keys("sidequest:landing:*")
    )


def test_five_thousand_async_jobs_run_once_each_in_one_process(
    enqueue_to: str, redis_client: redis.Redis, start_worker: Start
) -> None:
    jids = async_jobs.AsyncRecordJob.perform_bulk([[n] for n in range(5000)])
    sync_jids = jobs.RecordJob.perform_bulk([[n] for n in range(200)])
    worker = start_worker(
        enqueue_to,
        "-c",
        "10",
        "--async-concurrency",
        "500",
        "--log-level",
        "WARNING",
        requires=ASYNC_JOBS,
    )
    wait_for(lambda: redis_client.smembers("processes"), message="heartbeat")
    started = time.monotonic()
    wait_for(
        lambda: redis_client.llen("test:async_runs") >= 5000,
        timeout=30,
        interval=0.005,
        message="5,000 async jobs",
    )
    elapsed = time.monotonic() - started
    print(f"5,000 async jobs of 10 ms at async_concurrency 500: {elapsed:.2f}s")
    runs = Counter(redis_client.lrange("test:async_runs", 0, -1))
    assert set(runs) == set(jids) and set(runs.values()) == {1}
    # 10 threads would need 5 s for 5,000 waits of 10 ms; a loaded machine gets slack.
    assert elapsed < 5.0
    # The sync jobs of the same queue ran on the threads beside them.
    wait_for(lambda: redis_client.llen("test:runs") >= 200, message="sync jobs")
    assert sorted(redis_client.lrange("test:runs", 0, -1)) == sorted(sync_jids)
    wait_for(lambda: redis_client.get("stat:processed") == "5200", message="5,200 acks")
    assert _nothing_in_flight(redis_client)
    worker.signal(signal.SIGTERM)
    assert worker.wait(20) == 0


def test_a_timeout_cancels_the_task_and_retries_the_job(
    enqueue_to: str, redis_client: redis.Redis, start_worker: Start
) -> None:
    start_worker(enqueue_to, "--log-level", "WARNING", requires=ASYNC_JOBS)
    job = async_jobs.AsyncTimeoutJob.perform_later()
    wait_for(lambda: redis_client.zcard("retry") == 1, timeout=10, message="the retry")
    assert redis_client.lrange("test:cancelled", 0, -1) == [job.jid]
    retried = json.loads(redis_client.zrange("retry", 0, -1)[0])
    assert retried["error_class"] == "sidequest.errors.JobTimeoutError"
    assert "cancelled after" in retried["error_message"]
    # The process keeps serving async jobs.
    async_jobs.AsyncRecordJob.perform_later(1)
    wait_for(lambda: redis_client.llen("test:async_runs") == 1, message="the next job")


def test_a_job_that_swallows_its_cancellation_is_abandoned_after_the_grace(
    enqueue_to: str, redis_client: redis.Redis, start_worker: Start
) -> None:
    start_worker(
        enqueue_to,
        "--log-level",
        "WARNING",
        env={"SIDEQUEST_TIMEOUT_GRACE": "0.5"},
        requires=ASYNC_JOBS,
    )
    job = async_jobs.AsyncSwallowJob.perform_later(3.0)
    # Timeout 0.3 s + grace 0.5 s: dead (retry = 0) long before the job's own 3 s end.
    dead = wait_for(lambda: redis_client.zrange("dead", 0, -1), timeout=10, message="dead")
    assert not redis_client.lrange("test:swallowed_done", 0, -1)
    buried = json.loads(dead[0])
    assert buried["jid"] == job.jid and "abandoned" in buried["error_message"]
    async_jobs.AsyncRecordJob.perform_later(1)
    wait_for(lambda: redis_client.llen("test:async_runs") == 1, message="the next job")
    # The abandoned task finishes later; its outcome is ignored.
    wait_for(lambda: redis_client.llen("test:swallowed_done") == 1, timeout=10, message="end")
    assert redis_client.zcard("dead") == 1 and redis_client.zcard("retry") == 0


def test_a_job_blocking_the_loop_is_logged_by_name_and_the_process_keeps_running(
    enqueue_to: str, redis_client: redis.Redis, start_worker: Start
) -> None:
    worker = start_worker(enqueue_to, "--log-level", "WARNING", requires=ASYNC_JOBS)
    job = async_jobs.AsyncBlockingJob.perform_later(2.0)
    wait_for(lambda: redis_client.llen("test:blocking_done") == 1, timeout=15, message="done")
    wait_for(lambda: "event loop has been blocked" in worker.log(), message="the warning")
    log = worker.log()
    assert f"AsyncBlockingJob {job.jid}" in log and "time.sleep(seconds)" in log
    async_jobs.AsyncRecordJob.perform_later(1)
    wait_for(lambda: redis_client.llen("test:async_runs") == 1, message="the next job")
    assert worker.running()


def test_a_loop_blocked_past_the_jobs_timeout_restarts_the_process(
    enqueue_to: str, redis_client: redis.Redis, start_worker: Start
) -> None:
    worker = start_worker(
        enqueue_to,
        "-t",
        "1",
        "--log-level",
        "WARNING",
        env={"SIDEQUEST_TIMEOUT_GRACE": "0.5"},
        requires=ASYNC_JOBS,
    )
    job = async_jobs.AsyncStuckJob.perform_later()
    code = worker.wait(30)
    assert code == 70
    assert "restarting the worker process" in worker.log()
    # The job was pushed back to its queue, as SIGTERM pushes back unfinished jobs.
    queued = [json.loads(raw)["jid"] for raw in redis_client.lrange("queue:default", 0, -1)]
    assert queued == [job.jid]
    assert _nothing_in_flight(redis_client)


def test_callbacks_may_be_async_and_set_context_variables_for_perform(
    enqueue_to: str, redis_client: redis.Redis, start_worker: Start
) -> None:
    start_worker(enqueue_to, "--log-level", "WARNING", requires=ASYNC_JOBS)
    job = async_jobs.AsyncCallbacksJob.perform_later()
    wait_for(lambda: redis_client.llen("test:order") == 4, message="the callbacks")
    assert redis_client.lrange("test:order", 0, -1) == [
        "around-before",
        "perform",
        "around-after",
        "after",
    ]
    assert redis_client.get("test:request_id") == f"req-{job.jid}"
    flaky = async_jobs.AsyncFlakyJob.perform_later()
    wait_for(lambda: redis_client.lrange("test:flaky_done", 0, -1), timeout=15, message="retry")
    assert redis_client.get(f"test:flaky:{flaky.jid}") == "2"


def test_an_async_job_enqueues_without_blocking_the_loop(
    enqueue_to: str, redis_client: redis.Redis, start_worker: Start
) -> None:
    start_worker(enqueue_to, "--log-level", "WARNING", requires=ASYNC_JOBS)
    async_jobs.AsyncEnqueuingJob.perform_later(20)
    wait_for(lambda: redis_client.llen("test:runs") == 20, timeout=15, message="20 sync jobs")
    assert redis_client.get("stat:processed") is not None


def test_sigterm_lets_async_jobs_finish_then_pushes_back_the_rest(
    enqueue_to: str, redis_client: redis.Redis, start_worker: Start
) -> None:
    redis_client.set("test:hold", 1)
    worker = start_worker(enqueue_to, "-t", "2", "--log-level", "WARNING", requires=ASYNC_JOBS)
    wait_for(lambda: redis_client.smembers("processes"), message="heartbeat")
    # 10 finish within the grace; 10 are still waiting at its end.
    short = async_jobs.AsyncSlowJob.perform_bulk([[n, 0.5] for n in range(10)])
    long = async_jobs.AsyncSlowJob.perform_bulk([[n, 60] for n in range(10, 20)])
    wait_for(lambda: redis_client.llen("test:started") == 20, message="20 running")
    worker.signal(signal.SIGTERM)
    assert worker.wait(20) == 0
    finished = {entry.split()[1] for entry in redis_client.lrange("test:finished", 0, -1)}
    assert finished == set(short)
    queued = [json.loads(raw)["jid"] for raw in redis_client.lrange("queue:default", 0, -1)]
    assert sorted(queued) == sorted(long)
    assert _nothing_in_flight(redis_client)
    assert redis_client.get("stat:processed") == "10"
    # They run again, once, in the next worker.
    redis_client.delete("test:hold")
    start_worker(enqueue_to, "--log-level", "WARNING", requires=ASYNC_JOBS)
    wait_for(lambda: redis_client.llen("test:finished") == 20, timeout=15, message="the rest")
    assert Counter(entry.split()[1] for entry in redis_client.lrange("test:finished", 0, -1)) == {
        jid: 1 for jid in short + long
    }


def test_async_jobs_of_a_killed_worker_complete_in_another(
    enqueue_to: str, redis_client: redis.Redis, start_worker: Start
) -> None:
    redis_client.set("test:hold", 1)
    doomed = start_worker(
        enqueue_to, "--async-concurrency", "50", "--log-level", "WARNING", requires=ASYNC_JOBS
    )
    identity = wait_for(lambda: redis_client.smembers("processes"), message="heartbeat").pop()
    held = async_jobs.AsyncSlowJob.perform_bulk([[n] for n in range(80)])
    wait_for(lambda: redis_client.llen("test:started") == 50, message="50 running")
    wait_for(
        lambda: redis_client.hlen(keys.inflight(identity)) >= 50,
        message="in the in-flight hash",
    )
    doomed.kill()
    redis_client.delete("test:hold")
    start_worker(enqueue_to, "--log-level", "WARNING", requires=ASYNC_JOBS)
    wait_for(
        lambda: (
            redis_client.llen("test:finished") >= 80
            and redis_client.llen("queue:default") == 0
            and _nothing_in_flight(redis_client)
        ),
        timeout=30,
        message="every job done and nothing left in flight",
    )
    finished = Counter(entry.split()[1] for entry in redis_client.lrange("test:finished", 0, -1))
    assert set(finished) == set(held) and set(finished.values()) == {1}
    assert redis_client.get("stat:processed") == "80"


def test_a_frozen_worker_loses_its_async_jobs_and_its_late_acks_are_refused(
    enqueue_to: str, redis_client: redis.Redis, start_worker: Start
) -> None:
    redis_client.set("test:hold", 1)
    jids = async_jobs.AsyncSlowJob.perform_bulk([[n] for n in range(30)])
    frozen = start_worker(enqueue_to, "--log-level", "WARNING", requires=ASYNC_JOBS)
    wait_for(lambda: redis_client.llen("test:started") == 30, message="30 started")
    frozen.signal(signal.SIGSTOP)
    try:
        start_worker(enqueue_to, "--log-level", "WARNING", requires=ASYNC_JOBS)
        wait_for(lambda: redis_client.llen("test:started") == 60, timeout=15, message="recovered")
        redis_client.delete("test:hold")
        wait_for(lambda: redis_client.get("stat:processed") == "30", message="second worker done")
    finally:
        frozen.signal(signal.SIGCONT)
    wait_for(lambda: redis_client.llen("test:finished") == 60, message="stale copies finished")
    wait_for(lambda: "refused" in frozen.log(), message="refusal logged")
    assert redis_client.get("stat:processed") == "30"
    finished = Counter(entry.split()[1] for entry in redis_client.lrange("test:finished", 0, -1))
    assert set(finished) == set(jids)
    wait_for(lambda: _nothing_in_flight(redis_client), message="nothing stale left in flight")


def test_an_async_job_that_kills_its_process_ends_in_dead_as_a_poison_pill(
    enqueue_to: str, redis_client: redis.Redis, start_worker: Start
) -> None:
    pill = async_jobs.AsyncCrashesItsProcessJob.perform_later()
    others = async_jobs.AsyncRecordJob.perform_bulk([[n] for n in range(30)])
    env = {"SIDEQUEST_MAX_RECOVERIES": "2"}
    deadline = time.monotonic() + 60
    worker = start_worker(enqueue_to, "--log-level", "WARNING", env=env, requires=ASYNC_JOBS)
    while not redis_client.zcard("dead"):
        assert time.monotonic() < deadline, "the poison pill never reached the dead set"
        if not worker.running():
            worker = start_worker(
                enqueue_to, "--log-level", "WARNING", env=env, requires=ASYNC_JOBS
            )
        time.sleep(0.05)
    entry = json.loads(redis_client.zrange("dead", 0, -1)[0])
    assert entry["jid"] == pill.jid
    assert entry["error_class"] == "sidequest.errors.PoisonPillError"
    assert redis_client.get("test:crashes") == "3"  # the first run and two recoveries
    wait_for(
        lambda: set(redis_client.lrange("test:async_runs", 0, -1)) == set(others),
        timeout=30,
        message="the other jobs",
    )


def test_a_malformed_payload_naming_an_async_class_goes_to_dead(
    enqueue_to: str, redis_client: redis.Redis, start_worker: Start
) -> None:
    start_worker(enqueue_to, "--log-level", "WARNING", requires=ASYNC_JOBS)
    redis_client.lpush("queue:default", '{"class":"AsyncRecordJob","args":[1,')
    dead = wait_for(lambda: redis_client.zrange("dead", 0, -1), message="dead")
    assert json.loads(dead[0])["class"] == "sidequest.MalformedPayload"
    async_jobs.AsyncRecordJob.perform_later(1)
    wait_for(lambda: redis_client.llen("test:async_runs") == 1, message="the next job")


def test_sigterm_pushes_back_async_jobs_waiting_for_a_slot_at_once(
    enqueue_to: str, redis_client: redis.Redis, start_worker: Start
) -> None:
    redis_client.set("test:hold", 1)
    worker = start_worker(
        enqueue_to,
        "-t",
        "1",
        "--async-concurrency",
        "10",
        "--log-level",
        "WARNING",
        requires=ASYNC_JOBS,
    )
    identity = wait_for(lambda: redis_client.smembers("processes"), message="heartbeat").pop()
    jids = async_jobs.AsyncSlowJob.perform_bulk([[n] for n in range(40)])
    wait_for(lambda: redis_client.llen("test:started") == 10, message="10 running")
    # The loop's 10 slots are busy; its spare (2) waits in the process, the rest in Redis.
    wait_for(lambda: redis_client.hlen(keys.inflight(identity)) >= 12, message="spare held")
    assert redis_client.hlen(keys.inflight(identity)) <= 10 + 2 + 10 + 1
    stopping = time.monotonic()
    worker.signal(signal.SIGTERM)
    assert worker.wait(20) == 0
    # One grace period (1 s) for the running ones, not one per waiting job.
    assert time.monotonic() - stopping < 8
    queued = [json.loads(raw)["jid"] for raw in redis_client.lrange("queue:default", 0, -1)]
    assert sorted(queued) == sorted(jids)
    assert _nothing_in_flight(redis_client)


def test_unique_for_and_discard_on_behave_as_for_thread_jobs(
    enqueue_to: str, redis_client: redis.Redis, start_worker: Start
) -> None:
    first = async_jobs.AsyncUniqueJob.perform_later(1)
    duplicate = async_jobs.AsyncUniqueJob.perform_later(1)
    assert first.successfully_enqueued and not duplicate.successfully_enqueued
    dropped = async_jobs.AsyncDiscardedJob.perform_later()
    start_worker(enqueue_to, "--log-level", "WARNING", requires=ASYNC_JOBS)
    wait_for(lambda: redis_client.lrange("test:unique_runs", 0, -1) == [first.jid], message="run")
    wait_for(lambda: redis_client.lrange("test:discarded", 0, -1) == [dropped.jid], message="drop")
    # The lock goes with the acknowledgement: the same job may be enqueued again.
    wait_for(
        lambda: async_jobs.AsyncUniqueJob.perform_later(1).successfully_enqueued,
        message="the lock released",
    )
    wait_for(lambda: redis_client.llen("test:unique_runs") == 2, message="the second run")
    assert redis_client.zcard("retry") == redis_client.zcard("dead") == 0


# -- flow control, limits and batches: what thread jobs get, async jobs get ------------


def _flow_count(client: redis.Redis, name: str) -> int:
    return int(client.hget(keys.FLOW_STATS, name) or 0)


def test_an_async_job_cancelled_or_expired_before_it_starts_is_dropped_and_counted(
    enqueue_to: str, redis_client: redis.Redis, start_worker: Start
) -> None:
    cancelled = async_jobs.AsyncExpiring.perform_later("cancelled")
    # Marked while it stays queued, as a job on its way between two places is.
    redis_client.zadd(keys.CANCELLED, {cancelled.jid: time.time() + 3600})
    late = async_jobs.AsyncExpiring.set(expires_in=0.3).perform_later("late")
    async_jobs.AsyncExpiring.perform_later("fresh")
    wait_for(lambda: time.time() > late.payload["expires_at"], message="the deadline")

    worker = start_worker(enqueue_to, "--log-level", "INFO", requires=ASYNC_JOBS)

    wait_for(lambda: redis_client.lrange("test:starts", 0, -1) == ["fresh"], message="fresh ran")
    worker.line_with(cancelled.jid, "dropped: cancelled")
    worker.line_with(late.jid, "dropped: expired")
    wait_for(lambda: _flow_count(redis_client, "cancelled") == 1, message="cancel counted")
    wait_for(lambda: _flow_count(redis_client, "expired") == 1, message="expiry counted")
    wait_for(lambda: _nothing_in_flight(redis_client), message="nothing in flight")
    assert redis_client.llen("queue:default") == 0
    assert redis_client.zcard(keys.RETRY) == redis_client.zcard(keys.DEAD) == 0
    assert redis_client.lrange("test:starts", 0, -1) == ["fresh"]


def test_a_running_async_job_cancelled_stops_and_is_neither_retried_nor_dead(
    enqueue_to: str, redis_client: redis.Redis, start_worker: Start
) -> None:
    worker = start_worker(enqueue_to, "--log-level", "INFO", requires=ASYNC_JOBS)
    jid = async_jobs.AsyncCancellable.perform_later().jid
    wait_for(lambda: redis_client.llen("test:starts") == 1, timeout=20, message="running")

    api.cancel(redis_client, jid)

    # The task was cancelled at its await, with the job's `cancelled` already set.
    wait_for(
        lambda: redis_client.lrange("test:saw-cancel", 0, -1) == [f"{jid} True"],
        message="the cancellation reached it",
    )
    wait_for(lambda: _flow_count(redis_client, "cancelled") == 1, message="counted")
    wait_for(lambda: _nothing_in_flight(redis_client), message="acknowledged")
    assert redis_client.zcard(keys.RETRY) == redis_client.zcard(keys.DEAD) == 0
    assert not redis_client.exists(keys.STAT_FAILED)
    assert not redis_client.exists("test:finishes")
    worker.line_with(jid, "cancelled")


def test_an_async_job_that_swallows_a_cancel_is_abandoned_after_the_grace(
    enqueue_to: str, redis_client: redis.Redis, start_worker: Start
) -> None:
    # One async slot: the job after the abandoned one can only run once its slot is free.
    worker = start_worker(
        enqueue_to,
        "--async-concurrency",
        "1",
        "--log-level",
        "INFO",
        env={"SIDEQUEST_TIMEOUT_GRACE": "1"},
        requires=ASYNC_JOBS,
    )
    jid = async_jobs.AsyncCancellable.perform_later(60, True).jid
    wait_for(lambda: redis_client.llen("test:starts") == 1, timeout=20, message="running")

    cancelled_at = time.monotonic()
    api.cancel(redis_client, jid)
    after = async_jobs.AsyncExpiring.perform_later("after")

    wait_for(
        lambda: "after" in redis_client.lrange("test:starts", 0, -1), timeout=15, message="after"
    )
    took = time.monotonic() - cancelled_at
    assert took >= 1.0, f"abandoned after {took:.2f}s, before timeout_grace"
    assert redis_client.lrange("test:saw-cancel", 0, -1)[:1] == [f"{jid} True"]
    worker.line_with("abandoned", jid, "swallowed the cancellation of a cancel")
    wait_for(lambda: _flow_count(redis_client, "cancelled") == 1, message="counted")
    wait_for(lambda: _nothing_in_flight(redis_client), message="acknowledged")
    assert redis_client.zcard(keys.RETRY) == redis_client.zcard(keys.DEAD) == 0
    assert not redis_client.exists("test:finishes")
    assert after.jid not in redis_client.lrange("test:saw-cancel", 0, -1)


def test_async_jobs_hold_their_concurrency_limit_across_two_processes(
    enqueue_to: str, redis_client: redis.Redis, start_worker: Start
) -> None:
    for _ in range(2):
        start_worker(
            enqueue_to, "--async-concurrency", "20", "--log-level", "WARNING", requires=ASYNC_JOBS
        )
    wait_for(lambda: len(redis_client.smembers("processes")) == 2, message="workers up")
    jids = {async_jobs.AsyncSlotJob.perform_later("a", 0.2).jid for _ in range(16)}
    other = async_jobs.AsyncSlotJob.perform_later("b", 0.2).jid

    def done(account: str) -> list[str]:
        return [str(jid) for jid in redis_client.lrange(f"test:limits:done:{account}", 0, -1)]

    wait_for(lambda: len(done("a")) >= 16, timeout=60, message="every job of account a")
    assert sorted(done("a")) == sorted(jids)  # each once: parked jobs came back, none lost
    assert done("b") == [other]
    assert redis_client.get("test:limits:max:a") == "2"
    wait_for(lambda: _nothing_in_flight(redis_client), message="nothing in flight")
    assert redis_client.zcard(keys.RETRY) == redis_client.zcard(keys.DEAD) == 0


def test_async_jobs_hold_their_rate_limit(
    enqueue_to: str, redis_client: redis.Redis, start_worker: Start
) -> None:
    start_worker(
        enqueue_to, "--async-concurrency", "50", "--log-level", "WARNING", requires=ASYNC_JOBS
    )
    wait_for(lambda: redis_client.smembers("processes"), message="heartbeat")
    began = time.monotonic()
    jids = {async_jobs.AsyncRatedJob.perform_later(n).jid for n in range(30)}
    wait_for(lambda: redis_client.llen("test:async_rated") >= 30, timeout=30, message="all ran")
    elapsed = time.monotonic() - began
    entries = [str(line).split() for line in redis_client.lrange("test:async_rated", 0, -1)]
    assert {jid for jid, _ in entries} == jids and len(entries) == 30
    # 30 starts at 10 a second: the first 10 at once, the last ones two seconds later
    # at the earliest (50 slots would start all 30 at once without the limit).
    assert elapsed >= 1.8, f"30 jobs at 10/s ran in {elapsed:.2f}s"
    starts = sorted(float(at) for _, at in entries)
    assert starts[-1] - starts[0] >= 1.8
    assert redis_client.zcard(keys.RETRY) == redis_client.zcard(keys.DEAD) == 0
    wait_for(lambda: _nothing_in_flight(redis_client), message="nothing in flight")


def test_async_members_of_a_batch_fire_its_callbacks_and_async_chain_steps_run_in_order(
    enqueue_to: str, redis_client: redis.Redis, start_worker: Start
) -> None:
    batch = Batch(
        "async members",
        on_success=(CallbackJob, ["success"]),
        on_complete=(CallbackJob, ["complete"]),
        on_death=(CallbackJob, ["death"]),
    )
    with batch:
        members = async_jobs.AsyncRecordJob.perform_bulk([[n] for n in range(10)])
    chain(
        async_jobs.AsyncStepJob.s("one"),
        async_jobs.AsyncStepJob.s("two"),
        async_jobs.AsyncStepJob.s("three"),
    ).perform_later()
    start_worker(
        enqueue_to,
        "--log-level",
        "WARNING",
        requires=(*ASYNC_JOBS, "tests.integration.sidequest.batches.batch_jobs"),
    )
    wait_for(
        lambda: len(redis_client.lrange("test:callbacks", 0, -1)) >= 2,
        timeout=30,
        message="the batch's callbacks",
    )
    assert sorted(redis_client.lrange("test:async_runs", 0, -1)) == sorted(members)
    status = Batch.find(batch.bid).status()
    assert (status.total, status.pending, status.succeeded) == (10, 0, 10)
    assert Counter(redis_client.lrange("test:callbacks", 0, -1)) == {
        f"complete:{batch.bid}": 1,
        f"success:{batch.bid}": 1,
    }
    wait_for(lambda: redis_client.llen("test:async_steps") == 3, message="three steps")
    assert redis_client.lrange("test:async_steps", 0, -1) == ["one", "two", "three"]
