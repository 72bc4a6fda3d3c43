"""arq's side of the async I/O benchmark: the coroutine, its worker and its enqueues.

Run as a module it starts the worker with logging at WARNING, `max_jobs` = BENCH_SLOTS
and arq's default polling (poll_delay 0.5 s).
"""

from __future__ import annotations

import logging
import os
from typing import Any

from arq import create_pool  # type: ignore[import-not-found]
from arq.connections import RedisSettings  # type: ignore[import-not-found]

from bench.agents import aio_common


async def io_job(ctx: dict[str, Any], n: int) -> None:
    await aio_common.io_job(n)


class WorkerSettings:
    functions = (io_job,)
    redis_settings = RedisSettings.from_dsn(os.environ["REDIS_URL"])
    max_jobs = aio_common.slots()
    # Results are not read: keep none, as the job of the other systems leaves none.
    keep_result = 0


_pool: Any = None


async def _client() -> Any:
    global _pool
    if _pool is None:
        _pool = await create_pool(RedisSettings.from_dsn(os.environ["REDIS_URL"]))
    return _pool


async def enqueue(numbers: list[int]) -> None:
    import asyncio  # noqa: PLC0415

    pool = await _client()
    for start in range(0, len(numbers), 500):
        await asyncio.gather(*(pool.enqueue_job("io_job", n) for n in numbers[start : start + 500]))


async def enqueue_one(n: int) -> None:
    await (await _client()).enqueue_job("io_job", n)


def setup(redis_url: str) -> None:
    pass


if __name__ == "__main__":
    from arq.worker import run_worker  # type: ignore[import-not-found]

    logging.basicConfig(level=logging.WARNING)
    run_worker(WorkerSettings)
