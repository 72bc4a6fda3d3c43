"""The job the Sentinel tests run in real worker processes.

It records each execution (`<jid> <start time> <pid>`) in the test's own Redis
(TEST_REDIS_URL), a standalone server that no failover touches.
"""

from __future__ import annotations

import os
import time

import redis

from sidequest import Job

_client: redis.Redis | None = None


def recorder() -> redis.Redis:
    global _client
    if _client is None:
        _client = redis.Redis.from_url(os.environ["TEST_REDIS_URL"], decode_responses=True)
    return _client


class FailoverJob(Job):
    """Records its start, then takes a millisecond: enough for jobs to be in flight
    whenever the master fails."""

    def perform(self, n: int) -> None:
        recorder().rpush("test:runs", f"{self.jid} {time.time():.6f} {os.getpid()}")
        time.sleep(0.001)
