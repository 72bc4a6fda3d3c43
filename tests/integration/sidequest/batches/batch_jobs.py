"""Jobs the batch tests run in real worker processes.

They record what happened in the test's Redis (TEST_REDIS_URL) under `test:*` keys.
"""

from __future__ import annotations

import os
import time

import redis

from sidequest import Job, retry_on
from sidequest.batches import Batch

_client: redis.Redis | None = None


def recorder() -> redis.Redis:
    global _client
    if _client is None:
        _client = redis.Redis.from_url(os.environ["TEST_REDIS_URL"], decode_responses=True)
    return _client


class FlakyError(Exception):
    pass


@retry_on(FlakyError, wait=0, attempts=5, jitter=0)
class MemberJob(Job):
    """Records each run; `fails` times FlakyError first; `dies` goes to the dead set."""

    def perform(self, n: int, fails: int = 0, dies: bool = False) -> None:
        client = recorder()
        client.rpush("test:runs", self.jid)
        if dies:
            raise RuntimeError(f"member {n} dies")
        if fails and client.incr(f"test:attempts:{self.jid}") <= fails:
            raise FlakyError(f"member {n} fails once")


class NoRetryMemberJob(Job):
    """Like MemberJob, without retries: a death goes straight to the dead set."""

    retry = 0

    def perform(self, n: int, dies: bool = False) -> None:
        recorder().rpush("test:runs", self.jid)
        if dies:
            raise RuntimeError(f"member {n} dies")


class CallbackJob(Job):
    """A batch callback: records its label and its batch."""

    def perform(self, label: str) -> None:
        bid = self.payload.get("batch_callback", {}).get("bid", "")
        recorder().rpush("test:callbacks", f"{label}:{bid}")


class GateJob(Job):
    """Waits until `test:go` exists (up to `limit` s), then records `<pid>` and finishes."""

    def perform(self, n: int, limit: float = 30.0) -> None:
        client = recorder()
        client.rpush("test:waiting", f"{os.getpid()}:{self.jid}")
        deadline = time.monotonic() + limit
        while not client.exists("test:go") and time.monotonic() < deadline:
            time.sleep(0.001)
        client.rpush("test:finished", f"{os.getpid()}:{self.jid}")


class NestJob(Job):
    """Opens a child batch of its own batch `depth` levels deep, one member per level."""

    def perform(self, depth: int) -> None:
        recorder().rpush("test:runs", f"nest{depth}")
        if depth <= 0:
            return
        parent = self.batch
        assert parent is not None
        with parent, Batch(f"level {depth}", on_complete=(CallbackJob, [f"level{depth}"])):
            NestJob.perform_later(depth - 1)


class StepJob(Job):
    """A chain step: records its label; `dies` goes straight to the dead set."""

    retry = 0

    def perform(self, label: str, dies: bool = False) -> None:
        recorder().rpush("test:steps", label)
        if dies:
            raise RuntimeError(f"step {label} dies")
