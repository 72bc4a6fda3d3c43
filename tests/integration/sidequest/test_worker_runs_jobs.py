"""A real worker process drains, retries, buries and discards jobs."""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime

import redis

from sidequest import keys, payload
from tests.integration.sidequest import fixture_jobs as jobs
from tests.support.polling import wait_for
from tests.support.worker_process import WorkerProcess

Start = Callable[..., WorkerProcess]


def test_ten_thousand_bulk_jobs_run_exactly_once(
    enqueue_to: str, redis_client: redis.Redis, start_worker: Start
) -> None:
    jids = jobs.RecordJob.perform_bulk([[n] for n in range(10_000)])
    assert redis_client.llen("queue:default") == 10_000

    worker = start_worker(enqueue_to, "-c", "10", "--log-level", "WARNING")
    wait_for(
        lambda: redis_client.get("stat:processed") == "10000",
        timeout=60,
        message="10,000 processed",
    )
    wait_for(lambda: redis_client.llen("test:runs") >= 10_000, timeout=10, message="runs recorded")

    runs = redis_client.lrange("test:runs", 0, -1)
    assert len(runs) == 10_000
    assert set(runs) == set(jids)
    assert redis_client.llen("queue:default") == 0
    identity = redis_client.smembers("processes").pop()
    assert redis_client.hlen(keys.inflight(identity)) == 0
    assert worker.running()


def test_a_failing_job_goes_to_retry_with_sidekiqs_fields(
    enqueue_to: str, redis_client: redis.Redis, start_worker: Start
) -> None:
    job = jobs.AlwaysFailsJob.perform_later(7)
    start_worker(enqueue_to)
    entries = wait_for(
        lambda: redis_client.zrange("retry", 0, -1, withscores=True), message="retry entry"
    )
    failed_at = time.time()

    member, score = entries[0]
    stored = json.loads(member)
    assert stored["jid"] == job.jid
    assert stored["class"] == "AlwaysFailsJob"
    assert stored["args"] == [7]
    assert stored["retry_count"] == 0
    assert stored["error_class"] == "ValueError"
    assert stored["error_message"] == "always fails (7)"
    assert isinstance(stored["failed_at"], float)
    backtrace = payload.decode_backtrace(stored["error_backtrace"])
    assert "fixture_jobs.py:" in backtrace[0] and backtrace[0].endswith(":in `perform'")
    # Sidekiq's first delay: 0**4 + 15 s plus rand(10) * 1 s of jitter.
    assert failed_at + 15 - 2 <= float(score) <= failed_at + 25
    assert redis_client.get("stat:failed") == "1"
    assert redis_client.get("stat:processed") == "1"


def test_the_log_says_when_a_retried_job_runs_again_and_how_long_a_timed_out_job_ran(
    enqueue_to: str, redis_client: redis.Redis, start_worker: Start
) -> None:
    failing = jobs.AlwaysFailsJob.perform_later(3)
    looping = jobs.BusyLoopTimeoutJob.perform_later()  # timeout 0.5 s
    worker = start_worker(enqueue_to, "-c", "2")
    entries = wait_for(
        lambda: (
            redis_client.zcard("retry") == 2
            and redis_client.zrange("retry", 0, -1, withscores=True)
        ),
        message="both in retry",
    )
    due = {json.loads(member)["jid"]: score for member, score in entries}

    for job in (failing, looping):
        line = worker.line_with(f"jid={job.jid}", " retried ")
        found = re.search(r" retried duration=\S+ next attempt in (\d+)s at (.+?) UTC error=", line)
        assert found is not None, line
        at = datetime.strptime(found[2], "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
        assert at.timestamp() == math.floor(due[job.jid])  # the retry set's score
        assert 14 <= int(found[1]) <= 25  # Sidekiq's first delay: 15 s plus up to 9
    line = worker.line_with(f"jid={looping.jid}", " retried ")
    stopped = re.search(
        r"error=JobTimeoutError: job exceeded its timeout of 0\.5s and was stopped after "
        r"(\d+\.\d\d)s$",
        line,
    )
    assert stopped is not None, line
    assert 0.5 <= float(stopped[1]) < 5


def test_a_job_out_of_retries_goes_to_dead(
    enqueue_to: str, redis_client: redis.Redis, start_worker: Start
) -> None:
    job = jobs.AlwaysFailsJob.set(retry=1).perform_later(1)
    start_worker(enqueue_to)
    member = wait_for(lambda: redis_client.zrange("retry", 0, 0), message="first failure")[0]
    # Make the retry due now instead of in 15-24 s: the scheduler promotes it.
    redis_client.zadd("retry", {member: time.time()}, xx=True)

    dead = wait_for(lambda: redis_client.zrange("dead", 0, -1), message="dead entry")
    stored = json.loads(dead[0])
    assert stored["jid"] == job.jid
    assert stored["retry_count"] == 1
    assert "retried_at" in stored
    assert redis_client.zcard("retry") == 0


def test_retry_for_retries_within_its_window_then_buries_the_job(
    enqueue_to: str, redis_client: redis.Redis, start_worker: Start
) -> None:
    job = jobs.WindowedRetryJob.perform_later()
    assert job.payload["retry_for"] == 3600
    start_worker(enqueue_to)

    def failure_number(count: int) -> str:
        def found() -> str:
            entries: list[str] = list(redis_client.zrange("retry", 0, 0))  # type: ignore[arg-type]
            if entries and json.loads(entries[0])["retry_count"] == count:
                return entries[0]
            return ""

        return wait_for(found, message=f"retry entry with retry_count {count}")

    first = failure_number(0)
    redis_client.zadd("retry", {first: time.time()}, xx=True)
    # `retry = 1` would bury it now; inside its window it is retried again.
    second = failure_number(1)
    stored = json.loads(second)
    assert stored["failed_at"] == json.loads(first)["failed_at"], "the window's start stays"
    # Two hours after the first failure the one-hour window has passed.
    stored["failed_at"] -= 7200
    with redis_client.pipeline() as pipe:
        pipe.zrem("retry", second)
        pipe.zadd("retry", {json.dumps(stored): time.time()})
        pipe.execute()

    dead = wait_for(lambda: redis_client.zrange("dead", 0, -1), message="dead entry")
    buried = json.loads(dead[0])
    assert buried["jid"] == job.jid
    assert buried["retry_count"] == 2
    assert buried["error_message"] == "fails inside its window"
    assert redis_client.zcard("retry") == 0


def test_retry_zero_sends_the_job_straight_to_dead(
    enqueue_to: str, redis_client: redis.Redis, start_worker: Start
) -> None:
    jobs.DeadAtOnceJob.perform_later()
    start_worker(enqueue_to)
    dead = wait_for(lambda: redis_client.zrange("dead", 0, -1), message="dead entry")
    assert json.loads(dead[0])["error_message"] == "no retries for me"
    assert redis_client.zcard("retry") == 0


def test_retry_on_retries_then_buries_after_its_attempts(
    enqueue_to: str, redis_client: redis.Redis, start_worker: Start
) -> None:
    jobs.FlakyJob.perform_later()
    start_worker(enqueue_to)
    dead = wait_for(lambda: redis_client.zrange("dead", 0, -1), timeout=15, message="dead entry")
    assert redis_client.get("test:flaky-runs") == "3"
    stored = json.loads(dead[0])
    assert stored["error_class"] == "ConnectionError"
    assert stored["exception_executions"] == {"[ConnectionError]": 3}


def test_discard_on_leaves_no_trace_in_retry_or_dead(
    enqueue_to: str, redis_client: redis.Redis, start_worker: Start
) -> None:
    jobs.DiscardedJob.perform_later()
    jobs.RecordJob.perform_later(1)  # runs after the discarded one
    start_worker(enqueue_to)
    wait_for(lambda: redis_client.llen("test:runs") == 1, message="the next job")
    wait_for(lambda: redis_client.get("stat:processed") == "2", message="both counted")
    assert redis_client.get("test:discarded-runs") == "1"
    assert redis_client.zcard("retry") == 0
    assert redis_client.zcard("dead") == 0


def test_garbage_in_a_queue_goes_to_dead_and_the_worker_carries_on(
    enqueue_to: str, redis_client: redis.Redis, start_worker: Start
) -> None:
    garbage = [
        b"this is not json",
        b"\xff\xfe\x00 not even utf-8",
        b'["a", "list"]',
        b'{"class": "RecordJob", "args": [1, 2, 3], "jid": "bbbbbbbbbbbbbbbbbbbbbbbb"}',
        b'{"class": "RecordJob", "args": "not a list", "jid": "cccccccccccccccccccccccc"}',
    ]
    # Not garbage: a job of a class this worker does not know is retried (issue 22).
    unknown = b'{"class": "NoSuchJob", "args": [1], "jid": "aaaaaaaaaaaaaaaaaaaaaaaa"}'
    raw_client = redis.Redis.from_url(enqueue_to)
    for entry in [*garbage, unknown]:
        raw_client.lpush("queue:default", entry)
    good = jobs.RecordJob.perform_later(42)
    start_worker(enqueue_to)

    wait_for(lambda: redis_client.lrange("test:runs", 0, -1) == [good.jid], message="the good job")
    dead = wait_for(
        lambda: (
            len(redis_client.zrange("dead", 0, -1)) == len(garbage)
            and redis_client.zrange("dead", 0, -1)
        ),
        message="all garbage dead",
    )
    reasons = {json.loads(entry)["error_class"] for entry in dead}
    assert reasons == {
        "sidequest.errors.MalformedPayloadError",
        "sidequest.errors.ArgumentMismatchError",
    }
    by_jid = {json.loads(entry)["jid"]: json.loads(entry) for entry in dead}
    assert "takes 1" in by_jid["bbbbbbbbbbbbbbbbbbbbbbbb"]["error_message"]
    wrapped = [
        entry for entry in map(json.loads, dead) if entry["class"] == "sidequest.MalformedPayload"
    ]
    assert {entry["args"][0] for entry in wrapped} >= {"this is not json", '["a", "list"]'}
    [retried] = wait_for(lambda: redis_client.zrange("retry", 0, -1), message="the unknown job")
    assert json.loads(retried)["jid"] == "a" * 24
    assert json.loads(retried)["error_class"] == "sidequest.errors.UnknownJobError"
    assert "NoSuchJob" in json.loads(retried)["error_message"]


def test_a_finished_job_is_acknowledged_at_once_while_its_neighbours_still_run(
    enqueue_to: str, redis_client: redis.Redis, start_worker: Start
) -> None:
    # Outcomes wait for company only while the threads have fetched jobs left to run,
    # and never longer than a few milliseconds: a quick job among slow ones must not
    # stay unacknowledged (its unique lock held, its count missing) until they finish.
    redis_client.set("test:hold", 1)
    quick = jobs.QuickJob.perform_later(0.0)
    for n in range(6):
        jobs.SlowJob.perform_later(n)
    start_worker(enqueue_to, "-c", "2", env={"SIDEQUEST_PREFETCH": "4"})
    wait_for(lambda: redis_client.llen("test:done") == 1, message="the quick job done")
    finished = time.monotonic()

    wait_for(lambda: redis_client.get("stat:processed") == "1", timeout=2, message="its ack")
    assert time.monotonic() - finished < 1.0
    assert redis_client.lrange("test:done", 0, -1) == [quick.jid]
    # The quick job and two slow ones: the freed thread may start its slow job a moment later.
    wait_for(lambda: redis_client.llen("test:started") == 3, message="two slow jobs started")
    redis_client.delete("test:hold")
    wait_for(lambda: redis_client.get("stat:processed") == "7", timeout=20, message="the rest")


def test_a_worker_performs_keyword_arguments_as_keywords_and_buries_a_call_that_cannot_bind(
    enqueue_to: str, redis_client: redis.Redis, start_worker: Start
) -> None:
    good = jobs.KeywordJob.perform_later(7, format="pdf", pages=[1, 2])
    scheduled = jobs.KeywordJob.perform_in(0.2, 8, format="csv")
    # A stored call perform cannot take (written by hand: enqueueing it would raise).
    unknown = {"format": "pdf", "colour": "red", "_aj_ruby2_keywords": ["colour", "format"]}
    bad = payload.build("KeywordJob", [9, unknown], jid="d" * 24)
    redis.Redis.from_url(enqueue_to).lpush("queue:default", payload.encode(bad))
    start_worker(enqueue_to)

    runs = wait_for(
        lambda: (
            len(redis_client.lrange("test:keywords", 0, -1)) == 2
            and [json.loads(run) for run in redis_client.lrange("test:keywords", 0, -1)]
        ),
        message="both keyword jobs",
    )
    assert sorted(runs, key=lambda run: run["report_id"]) == [
        {"jid": good.jid, "report_id": 7, "format": "pdf", "pages": [1, 2]},
        {"jid": scheduled.jid, "report_id": 8, "format": "csv", "pages": None},
    ]
    [dead] = wait_for(lambda: redis_client.zrange("dead", 0, -1), message="the bad call dead")
    assert json.loads(dead)["error_class"] == "sidequest.errors.ArgumentMismatchError"
    assert "unexpected keyword argument 'colour'" in json.loads(dead)["error_message"]
    assert redis_client.zcard("retry") == 0
