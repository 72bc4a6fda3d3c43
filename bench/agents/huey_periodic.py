"""Huey's side of the periodic benchmark: SCHEDULES periodic tasks on every minute.

Huey's periodic tasks take a `crontab`, whose finest field is the minute, and its
consumer looks for due ones once a minute; so Huey's ticks are minutes, and many
schedules run side by side to make up the ticks (bench/figures/periodic.py).
"""

from __future__ import annotations

import os
from collections.abc import Callable

from huey import RedisHuey, crontab  # type: ignore[import-not-found]

from bench.agents import periodic

huey = RedisHuey("bench-periodic", url=os.environ["REDIS_URL"])


def _task(index: int) -> Callable[[], None]:
    def run() -> None:
        periodic.ran(index)

    run.__name__ = f"bench_{index}"
    return run


tasks = [
    huey.periodic_task(crontab(minute="*"), name=f"bench_{index}")(_task(index))
    for index in range(periodic.schedules())
]
