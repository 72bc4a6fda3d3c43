"""Limited jobs the limiter tests run in real worker processes.

Each records its runs in the test's Redis (TEST_REDIS_URL) under `test:limits:*`: a
concurrency-limited job adds itself to a set of running jobs at its start and takes
the set's size in the same Lua call, so the recorded maximum is what really ran at
once, across processes.
"""

from __future__ import annotations

import os
import time
from datetime import timedelta

import redis

from sidequest import Job, limits_concurrency, limits_rate

_client: redis.Redis | None = None

# Adds the running job and keeps the highest count seen: one atomic step.
_ENTER = """
redis.call('SADD', KEYS[1], ARGV[1])
local running = redis.call('SCARD', KEYS[1])
if running > tonumber(redis.call('GET', KEYS[2]) or '0') then
  redis.call('SET', KEYS[2], running)
end
return running
"""


def recorder() -> redis.Redis:
    global _client
    if _client is None:
        _client = redis.Redis.from_url(os.environ["TEST_REDIS_URL"], decode_responses=True)
    return _client


def running_key(account: str) -> str:
    return f"test:limits:running:{account}"


def max_key(account: str) -> str:
    return f"test:limits:max:{account}"


def _run_counted(account: str, jid: str, seconds: float) -> None:
    client = recorder()
    member = f"{os.getpid()}:{jid}"
    client.eval(_ENTER, 2, running_key(account), max_key(account), member)
    client.rpush(f"test:limits:starts:{account}", f"{jid} {os.getpid()} {time.time()!r}")
    try:
        time.sleep(seconds)
    finally:
        client.srem(running_key(account), member)
        client.rpush(f"test:limits:done:{account}", jid)


@limits_concurrency(to=3, key=lambda account, seconds: f"acct:{account}")
class SlotJob(Job):
    """Three at a time per account, each holding its slot for `seconds`."""

    def perform(self, account: str, seconds: float) -> None:
        _run_counted(account, self.jid, seconds)


@limits_concurrency(to=3, key=lambda account, seconds: f"acct:{account}", duration=2)
class ShortLeaseSlotJob(Job):
    """As SlotJob with a 2 s slot lapse, which the heartbeat must keep renewing."""

    def perform(self, account: str, seconds: float) -> None:
        _run_counted(account, self.jid, seconds)


@limits_rate(50, per=timedelta(seconds=1))
class RatedJob(Job):
    """At most 50 starts a second (per class)."""

    def perform(self, n: int) -> None:
        recorder().rpush("test:limits:rated", f"{self.jid} {time.time()!r}")


class ConfigLimitedJob(Job):
    """No decorator: its limit comes from the worker's config file (`:limits:`)."""

    def perform(self, account: str, seconds: float) -> None:
        _run_counted(account, self.jid, seconds)
