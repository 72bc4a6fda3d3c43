"""Python jobs that the interop tests' `sidequest worker` processes run.

Their names are what a Ruby app would write in `'class' => ...`: Ruby code enqueues
them by name with Sidekiq::Client (or Rails' ActiveJob) and our worker resolves them.
Each execution is recorded in the test's Redis (TEST_REDIS_URL) under `interop:runs`.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

import redis

from sidequest import Job, retry_on

_client: redis.Redis | None = None

RUNS = "interop:runs"
BROKEN = "interop:broken"  # while this key exists, FlakyReportJob fails
HOLD = "interop:hold"  # while this key exists, HeldReportJob keeps running


def recorder() -> redis.Redis:
    global _client
    if _client is None:
        _client = redis.Redis.from_url(os.environ["TEST_REDIS_URL"], decode_responses=True)
    return _client


def record(job: Job) -> None:
    entry = {
        "jid": job.jid,
        "class": type(job).job_name,
        "args": job.args,
        "kwargs": job.kwargs,
        "queue": job.queue_name,
        "started_at": time.time(),
        "pid": os.getpid(),
    }
    recorder().rpush(RUNS, json.dumps(entry))


def runs(client: redis.Redis) -> list[dict[str, Any]]:
    """Every recorded execution, oldest first."""
    return [json.loads(entry) for entry in client.lrange(RUNS, 0, -1)]


class ReportBrokenError(Exception):
    """The failure the tests make jobs raise, so its name and message can be compared."""


class KeywordReportJob(Job):
    """Takes keyword arguments: what Ruby's ActiveJob sent as keywords arrives as keywords.

    Ruby's class of the same name (defined in the tests' Rails console) takes the same
    ones, so each side performs what the other enqueued.
    """

    queue = "reports"

    def perform(self, report_id: int, *, format: str, pages: list[int] | None = None) -> None:
        record(self)


class ProcessReportJob(Job):
    """Takes any arguments and records them: what Ruby sent is what perform received."""

    queue = "reports"

    def perform(self, report_id: Any, *rest: Any) -> None:
        record(self)


@retry_on(ReportBrokenError, wait=3600, attempts=10)
class FlakyReportJob(Job):
    """Fails while `interop:broken` exists; retries wait an hour, so only a manual retry
    (Sidekiq's RetrySet#retry_all in the tests) runs it again within a test."""

    queue = "reports"

    def perform(self, report_id: int) -> None:
        record(self)
        if recorder().exists(BROKEN):
            raise ReportBrokenError(f"report {report_id} is broken")


class DoomedReportJob(Job):
    """Fails with no retries: straight to the dead set."""

    queue = "reports"
    retry = 0

    def perform(self, report_id: int) -> None:
        record(self)
        raise ReportBrokenError(f"report {report_id} can never be built")


class HeldReportJob(Job):
    """Runs while `interop:hold` exists (at most `limit` seconds): a busy thread to see."""

    queue = "reports"

    def perform(self, report_id: int, limit: float = 60.0) -> None:
        record(self)
        deadline = time.monotonic() + limit
        while recorder().exists(HOLD) and time.monotonic() < deadline:
            time.sleep(0.02)
