"""Dramatiq broker and actor for the benchmark; the ``dramatiq`` CLI loads this module."""

from __future__ import annotations

import os

import dramatiq  # type: ignore[import-not-found]
from dramatiq.brokers.redis import RedisBroker  # type: ignore[import-not-found]

from bench.agents.workload import job

dramatiq.set_broker(RedisBroker(url=os.environ["REDIS_URL"]))


def _noop(n: int) -> None:
    job(n)


noop = dramatiq.actor(_noop, actor_name="noop", queue_name="default")
