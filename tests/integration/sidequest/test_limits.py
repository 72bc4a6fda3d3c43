"""Concurrency and rate limits across real worker processes (sidequest.limits).

Three processes x 10 threads share one key limited to 3 slots; a rate limit of 50/s is
shared by four processes. The jobs (limit_jobs.py) record in Redis what really ran at
once and when each started.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable

import redis

from tests.integration.sidequest.limit_jobs import (
    RatedJob,
    ShortLeaseSlotJob,
    SlotJob,
    max_key,
    running_key,
)
from tests.support.polling import wait_for
from tests.support.worker_process import WorkerProcess

LIMIT_JOBS = "tests.integration.sidequest.limit_jobs"
JOBS = 120
SECONDS = 0.2
IDEAL = JOBS / 3 * SECONDS  # 8 s: 40 rounds of three 0.2 s jobs


def start_workers(
    start_worker: Callable[..., WorkerProcess], url: str, client: redis.Redis, count: int
) -> list[WorkerProcess]:
    workers = [
        start_worker(url, "-c", "10", "--log-level", "WARNING", requires=(LIMIT_JOBS,))
        for _ in range(count)
    ]
    wait_for(lambda: len(client.smembers("processes")) == count, message="workers up")
    return workers


def runs(client: redis.Redis, account: str) -> Counter[str]:
    return Counter(client.lrange(f"test:limits:done:{account}", 0, -1))


def test_three_processes_never_run_more_than_three_of_one_key(
    enqueue_to: str, redis_client: redis.Redis, start_worker: Callable[..., WorkerProcess]
) -> None:
    start_workers(start_worker, enqueue_to, redis_client, 3)
    began = time.monotonic()
    jids = {SlotJob.perform_later("a", SECONDS).jid for _ in range(JOBS)}
    wait_for(lambda: len(runs(redis_client, "a")) >= JOBS, timeout=60, message="all jobs ran")
    elapsed = time.monotonic() - began
    done = runs(redis_client, "a")
    print(f"\n120 jobs, to=3, 0.2 s each, 3 processes x 10 threads: {elapsed:.2f}s (ideal 8 s)")
    assert set(done) == jids and set(done.values()) == {1}
    assert int(redis_client.get(max_key("a")) or 0) == 3
    assert redis_client.zcard("retry") == 0
    assert elapsed <= IDEAL * 1.2
    # Every slot was given back and nothing is left waiting.
    assert redis_client.zcard("sidequest:limits:slots:acct:a") == 0
    assert redis_client.llen("sidequest:limits:parked:acct:a") == 0
