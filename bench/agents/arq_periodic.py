"""arq's side of the periodic benchmark: SCHEDULES cron jobs on every second.

`cron(..., second=every second, microsecond=0)`: on the second (arq's default is
123,456 µs after it), unique (its default: the job id names the tick, so a second
worker enqueuing the same tick is refused). The job reads its tick from that id.
"""

from __future__ import annotations

import os
from typing import Any, ClassVar

from arq import cron  # type: ignore[import-not-found]
from arq.connections import RedisSettings  # type: ignore[import-not-found]

from bench.agents import periodic


async def periodic_job(ctx: dict[str, Any]) -> None:
    # job id: "<name>:<tick in epoch ms>", name "bench_<index>"
    name, _, millis = str(ctx["job_id"]).rpartition(":")
    periodic.ran(int(name.rpartition("_")[2]), int(millis) // 1000)


class WorkerSettings:
    functions: ClassVar[tuple[Any, ...]] = ()
    cron_jobs: ClassVar[list[Any]] = [
        cron(
            periodic_job,
            name=f"bench_{index}",
            second=set(range(60)),
            microsecond=0,
        )
        for index in range(periodic.schedules())
    ]
    redis_settings = RedisSettings.from_dsn(os.environ["REDIS_URL"])
    max_jobs = 10
