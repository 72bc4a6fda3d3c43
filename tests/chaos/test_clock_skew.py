"""Workers whose clocks disagree with each other and with the client, by an hour.

Liveness never reads a clock: a worker is alive while its lease key exists, and Redis
expires the lease. So skewed workers neither presume each other dead nor miss a death.
Scheduled and retry times are wall-clock epoch seconds written on one host and compared
on another: a scheduler whose clock runs ahead promotes jobs early by its skew. That
limit is documented (docs/guarantees.md) and shown below.

The skew is injected into each worker process by skewed_clock/sitecustomize.py.
"""

from __future__ import annotations

import time
from pathlib import Path

import redis

import sidequest
from sidequest import keys
from sidequest.adapter import set_adapter
from tests.chaos import fault_jobs as jobs
from tests.chaos.conftest import StartWorker
from tests.support.polling import wait_for
from tests.support.worker_process import ROOT

SKEWED_CLOCK = Path(__file__).parent / "skewed_clock"


def skewed(seconds: float) -> dict[str, str]:
    """Environment for a worker whose wall clock is `seconds` off."""
    return {"PYTHONPATH": f"{SKEWED_CLOCK}:{ROOT}", "SIDEQUEST_TEST_CLOCK_SKEW": str(seconds)}


def test_workers_an_hour_apart_share_work_and_recover_each_other_on_time(
    redis_url: str, redis_client: redis.Redis, start_worker: StartWorker
) -> None:
    ahead = start_worker(redis_url, "-c", "4", env=skewed(3600))
    behind = start_worker(redis_url, "-c", "4", env=skewed(-3600))
    wait_for(lambda: len(redis_client.smembers("processes")) == 2, message="both beating")
    sidequest.configure(redis_url)
    try:
        shared = jobs.SlowRecordJob.perform_bulk([[n, 0.02] for n in range(200)])
        wait_for(
            lambda: sorted(redis_client.lrange("test:runs", 0, -1)) == sorted(shared),
            timeout=20,
            message="200 jobs, each once",
        )
        # Neither took the other for dead: no recovery, no refused outcome.
        for worker in (ahead, behind):
            assert "recovered" not in worker.log() and "refused" not in worker.log()

        redis_client.set("test:hold", 1)
        # More than one worker holds (4 threads, one spare for these slow jobs): both get some.
        held = jobs.HoldJob.perform_bulk([[n] for n in range(16)])
        identity = next(m for m in redis_client.smembers("processes") if f":{ahead.pid}:" in m)
        wait_for(
            lambda: redis_client.hlen(keys.inflight(identity)),
            message="jobs in the fast clock's worker",
        )
        killed_at = time.monotonic()
        ahead.kill()
        redis_client.delete("test:hold")
        wait_for(
            lambda: set(redis_client.lrange("test:done", 0, -1)) == set(held),
            timeout=20,
            message="every held job, those of the killed worker recovered",
        )
    finally:
        set_adapter(None)
    assert "recovered" in behind.log()
    # Lease expiry (1.5 s) plus a heartbeat or two: the hour of skew does not show.
    assert time.monotonic() - killed_at < 8


def test_a_scheduler_whose_clock_runs_ahead_promotes_jobs_early_by_its_skew(
    redis_url: str, redis_client: redis.Redis, start_worker: StartWorker
) -> None:
    start_worker(redis_url, "-c", "2", env=skewed(3600))
    sidequest.configure(redis_url)
    try:
        job = jobs.RecordJob.perform_in(600, 1)  # due in ten minutes by this clock
    finally:
        set_adapter(None)
    wait_for(lambda: redis_client.lrange("test:runs", 0, -1) == [job.jid], timeout=10)
