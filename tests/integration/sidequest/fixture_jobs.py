"""Jobs the integration tests run in real worker processes.

They record what happened in the test's Redis (TEST_REDIS_URL) under `test:*` keys,
so the test can check every execution from the outside.
"""

from __future__ import annotations

import json
import os
import time
from datetime import timedelta

import redis

from sidequest import DeserializationError, Job, discard_on, retry_on

_client: redis.Redis | None = None


def recorder() -> redis.Redis:
    global _client
    if _client is None:
        _client = redis.Redis.from_url(os.environ["TEST_REDIS_URL"], decode_responses=True)
    return _client


class RecordJob(Job):
    """Records its jid once per execution."""

    def perform(self, n: int) -> None:
        recorder().rpush("test:runs", self.jid)


class StartTimeJob(Job):
    """Records when it started, for lateness checks."""

    def perform(self, label: str) -> None:
        recorder().hset("test:started", label, repr(time.time()))


class SlowJob(Job):
    """Starts, then waits while `test:hold` exists (up to `limit` seconds), then finishes."""

    def perform(self, n: int, limit: float = 60.0) -> None:
        client = recorder()
        client.rpush("test:started", self.jid)
        deadline = time.monotonic() + limit
        while client.exists("test:hold") and time.monotonic() < deadline:
            time.sleep(0.02)
        client.rpush("test:done", self.jid)


class PidJob(Job):
    """Records `<pid> <jid>` in `test:starts` and `test:finishes`, so a test can tell which
    worker process ran and completed each job; with `hold`, waits while `test:hold` exists
    (up to `limit` seconds) before it finishes."""

    def perform(self, n: int, hold: bool, limit: float = 60.0) -> None:
        client = recorder()
        mark = f"{os.getpid()} {self.jid}"
        client.rpush("test:starts", mark)
        deadline = time.monotonic() + limit
        while hold and client.exists("test:hold") and time.monotonic() < deadline:
            time.sleep(0.02)
        client.rpush("test:finishes", mark)


class QuickJob(Job):
    def perform(self, seconds: float) -> None:
        client = recorder()
        client.rpush("test:started", self.jid)
        time.sleep(seconds)
        client.rpush("test:done", self.jid)


class AlwaysFailsJob(Job):
    retry = 3

    def perform(self, n: int) -> None:
        raise ValueError(f"always fails ({n})")


class WindowedRetryJob(Job):
    retry = 1  # overruled by retry_for: the window, not the count, ends the retries
    retry_for = timedelta(hours=1)

    def perform(self) -> None:
        raise ValueError("fails inside its window")


class DeadAtOnceJob(Job):
    retry = 0

    def perform(self) -> None:
        raise RuntimeError("no retries for me")


class GoneError(Exception):
    pass


@discard_on(GoneError, DeserializationError)
class DiscardedJob(Job):
    def perform(self) -> None:
        recorder().incr("test:discarded-runs")
        raise GoneError("the record is gone")


@retry_on(ConnectionError, wait=0.2, attempts=3)
class FlakyJob(Job):
    def perform(self) -> None:
        recorder().incr("test:flaky-runs")
        raise ConnectionError("the service hung up")


class BusyLoopTimeoutJob(Job):
    timeout = 0.5
    retry = 1

    def perform(self) -> None:
        recorder().rpush("test:started", self.jid)
        while True:  # pure Python: the watchdog's exception lands here
            pass


class SleepTimeoutJob(Job):
    timeout = 0.5
    retry = 1

    def perform(self, seconds: float = 30.0) -> None:
        recorder().rpush("test:started", self.jid)
        try:
            time.sleep(seconds)  # blocked in C: the watchdog must abandon the thread
            # The timeout raised into the thread lands as soon as sleep returns: the job's
            # code must not go on.
            recorder().rpush("test:after-sleep", self.jid)
        finally:
            recorder().rpush("test:woke", self.jid)


class BarrierJob(Job):
    """Waits until `parties` BarrierJobs are running at once, then records its jid in
    `test:barrier`; after `limit` seconds it gives up and records it in `test:gave-up`.

    `parties` of them complete only in a process with `parties` free threads."""

    def perform(self, parties: int, limit: float = 5.0) -> None:
        client = recorder()
        client.rpush("test:arrived", self.jid)
        deadline = time.monotonic() + limit
        while client.llen("test:arrived") < parties:
            if time.monotonic() > deadline:
                client.rpush("test:gave-up", self.jid)
                return
            time.sleep(0.01)
        client.rpush("test:barrier", self.jid)


class UniqueReportJob(Job):
    unique_for = timedelta(minutes=10)

    def perform(self, report_id: int) -> None:
        recorder().rpush("test:runs", f"{self.jid}:{report_id}")


class CrashesItsProcessJob(Job):
    """Kills the whole worker process, every time (a poison pill)."""

    def perform(self) -> None:
        recorder().incr("test:crashes")
        os._exit(3)


class KeywordJob(Job):
    """Records the keyword arguments perform received."""

    def perform(self, report_id: int, *, format: str, pages: list[int] | None = None) -> None:
        entry = {"jid": self.jid, "report_id": report_id, "format": format, "pages": pages}
        recorder().rpush("test:keywords", json.dumps(entry))


class PeriodicJob(Job):
    """Records each run in `test:periodic` as JSON: its label, its tick (`periodic_at`),
    when it started, its jid, the worker's pid, and whether it ran outside the schedule."""

    def perform(self, label: str) -> None:
        started = time.time()
        entry = {
            "label": label,
            "tick": self.periodic_at,
            "started": started,
            "jid": self.jid,
            "pid": os.getpid(),
            "manual": bool(self.payload.get("periodic_manual")),
        }
        recorder().rpush("test:periodic", json.dumps(entry))
