"""Dramatiq's actors for the limiter benchmark (bench/limits.py), with its
``ConcurrentRateLimiter`` (a counter per key on the Redis rate-limiter backend) used as
its documentation shows: acquired around the work, raising ``RateLimitExceeded`` when
full, so that the Retries middleware tries again after its backoff."""

from __future__ import annotations

import os

import dramatiq  # type: ignore[import-not-found]
from dramatiq.brokers.redis import RedisBroker  # type: ignore[import-not-found]
from dramatiq.rate_limits import ConcurrentRateLimiter  # type: ignore[import-not-found]
from dramatiq.rate_limits.backends import RedisBackend  # type: ignore[import-not-found]

from bench.agents import limit_record

dramatiq.set_broker(RedisBroker(url=os.environ["REDIS_URL"]))
_backend = RedisBackend(url=os.environ["REDIS_URL"])
NEVER = ConcurrentRateLimiter(_backend, "never-binding", limit=1000)
SLOTS = ConcurrentRateLimiter(_backend, "slots", limit=3)


def _count(n: int) -> None:
    limit_record.count()


def _never_binding(n: int) -> None:
    with NEVER.acquire():
        limit_record.count()


def _slot(n: int, seconds: float) -> None:
    with SLOTS.acquire():
        limit_record.held_slot(f"{n}", seconds)


count = dramatiq.actor(_count, actor_name="count", queue_name="bench")
never_binding = dramatiq.actor(_never_binding, actor_name="never_binding", queue_name="bench")
# A short backoff, set per actor: refused jobs come back after 10-500 ms instead of
# Dramatiq's default of 15 s and more.
slot = dramatiq.actor(
    _slot,
    actor_name="slot",
    queue_name="bench",
    max_retries=100_000,
    min_backoff=10,
    max_backoff=500,
)


def enqueue(kind: str, jobs: int, seconds: float) -> None:
    for n in range(jobs):
        if kind == "plain":
            count.send(n)
        elif kind == "limited":
            never_binding.send(n)
        else:
            slot.send(n, seconds)
    dramatiq.get_broker().close()
