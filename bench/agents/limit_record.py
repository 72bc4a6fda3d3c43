"""What the limiter benchmark's jobs record, the same for every system: one INCR per
job for the cost runs; start, end and the running count for the fidelity runs."""

from __future__ import annotations

import os
import time

import redis

DONE = "bench:limits:done"
RUNNING = "bench:limits:running"
MAX = "bench:limits:max"
STARTS = "bench:limits:starts"
ENDS = "bench:limits:ends"

# Adds the running job and keeps the highest count seen: one atomic step.
_ENTER = """
redis.call('SADD', KEYS[1], ARGV[1])
local running = redis.call('SCARD', KEYS[1])
if running > tonumber(redis.call('GET', KEYS[2]) or '0') then
  redis.call('SET', KEYS[2], running)
end
return running
"""

_client: redis.Redis | None = None


def client() -> redis.Redis:
    global _client
    if _client is None:
        _client = redis.Redis.from_url(os.environ["REDIS_URL"])
    return _client


def count() -> None:
    client().incr(DONE)


def held_slot(tag: str, seconds: float) -> None:
    """Run for `seconds` inside a slot, recording the start, the end and the count."""
    redis_client = client()
    redis_client.eval(_ENTER, 2, RUNNING, MAX, tag)
    redis_client.rpush(STARTS, repr(time.time()))
    time.sleep(seconds)
    pipe = redis_client.pipeline(transaction=False)
    pipe.rpush(ENDS, repr(time.time()))
    pipe.srem(RUNNING, tag)
    pipe.execute()
