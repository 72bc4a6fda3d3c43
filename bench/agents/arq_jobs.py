"""arq coroutine and worker settings for the benchmark (started by ``arq_worker``)."""

from __future__ import annotations

import os
from typing import Any

from arq.connections import RedisSettings  # type: ignore[import-not-found]

from bench.agents.record import record


async def noop(ctx: dict[str, Any], n: int) -> None:
    record(n)


class WorkerSettings:
    functions = (noop,)
    redis_settings = RedisSettings.from_dsn(os.environ["REDIS_URL"])
    # arq's concurrency knob: at most 10 jobs in flight, like 10 threads elsewhere.
    max_jobs = 10
