"""Huey instance (Redis storage) and task for the benchmark; ``huey_consumer`` loads ``huey``."""

from __future__ import annotations

import os

from huey import RedisHuey  # type: ignore[import-not-found]

from bench.agents.workload import job

huey = RedisHuey("bench", url=os.environ["REDIS_URL"])


def _noop(n: int) -> None:
    job(n)


noop = huey.task(name="noop")(_noop)
