"""arq coroutine and worker settings for the benchmark.

Quiet runs start it through ``arq_worker`` (logging at WARNING); default-logging
runs through arq's own command line, ``arq bench.agents.arq_jobs.WorkerSettings``.
"""

from __future__ import annotations

import os
from typing import Any

from arq.connections import RedisSettings  # type: ignore[import-not-found]

from bench.agents import workload


async def noop(ctx: dict[str, Any], n: int) -> None:
    await workload.async_job(ctx, n)


class WorkerSettings:
    functions = (noop,)
    redis_settings = RedisSettings.from_dsn(os.environ["REDIS_URL"])
    # arq's concurrency knob: at most 10 jobs in flight, like 10 threads elsewhere.
    max_jobs = 10
    # The workload's clients (an INCR client, a PostgreSQL pool) live in arq's context.
    on_startup = workload.startup
    on_shutdown = workload.shutdown
