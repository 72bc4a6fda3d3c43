"""Jobs the flow-control tests run in real worker processes (test_flow_control.py).

Each records its executions in the test's Redis (TEST_REDIS_URL) under `test:*` keys.
"""

from __future__ import annotations

import os
import time
from datetime import timedelta

import redis

from sidequest import Job, JobCancelled

_client: redis.Redis | None = None


def recorder() -> redis.Redis:
    global _client
    if _client is None:
        _client = redis.Redis.from_url(os.environ["TEST_REDIS_URL"], decode_responses=True)
    return _client


class Recorded(Job):
    """Records `<label>` in `test:starts` each time it starts."""

    def perform(self, label: str) -> None:
        recorder().rpush("test:starts", label)


class Expiring(Job):
    expires_in = timedelta(seconds=30)

    def perform(self, label: str) -> None:
        recorder().rpush("test:starts", label)


class Debounced(Job):
    """Records its argument and when it started."""

    def perform(self, value: int) -> None:
        recorder().rpush("test:debounced", f"{value} {time.time()!r}")


class Checking(Job):
    """Runs until cancelled, looking every 20 ms (at most `limit` seconds)."""

    def perform(self, limit: float = 60.0) -> None:
        client = recorder()
        client.rpush("test:starts", self.jid)
        deadline = time.monotonic() + limit
        try:
            while time.monotonic() < deadline:
                self.check_cancelled()
                time.sleep(0.02)
        except JobCancelled:
            client.rpush("test:saw-cancel", self.jid)
            raise
        client.rpush("test:finishes", self.jid)


class Ignoring(Job):
    """Never looks at `cancelled`: blocked in C (one long sleep) for `seconds`."""

    def perform(self, seconds: float = 60.0) -> None:
        recorder().rpush("test:starts", self.jid)
        time.sleep(seconds)
        recorder().rpush("test:finishes", self.jid)


class Failing(Job):
    retry = 3

    def perform(self, label: str) -> None:
        recorder().rpush("test:starts", label)
        raise ValueError("fails, to be retried")
