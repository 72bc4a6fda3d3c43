"""The jobs of bench.batches, run by `sidequest worker -r bench.batch_jobs`.

They write to the benchmark's Redis only what the measurement needs: a member notes
when its perform ended, a callback when it started (both `time.time()`, one host).
"""

from __future__ import annotations

import os
import time

import redis

from sidequest import Job

_client: redis.Redis | None = None


def _redis() -> redis.Redis:
    global _client
    if _client is None:
        _client = redis.Redis.from_url(os.environ["REDIS_URL"])
    return _client


class NoopJob(Job):
    def perform(self, n: int) -> None:
        pass


class TimedMemberJob(Job):
    """Notes when it ended under its batch id (the latest member's end is what counts)."""

    def perform(self, n: int) -> None:
        ended = time.time()
        _redis().rpush(f"bench:ends:{self.payload['bid']}", repr(ended))


class TimedCallbackJob(Job):
    def perform(self) -> None:
        started = time.time()
        bid = self.payload["batch_callback"]["bid"]
        _redis().set(f"bench:callback:{bid}", repr(started))
