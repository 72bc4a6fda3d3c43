"""Dramatiq's side of the async I/O benchmark: an `async def` actor under its AsyncIO
middleware (coroutines on one event loop thread; `--threads` worker threads each wait on
one), on the Redis broker."""

from __future__ import annotations

import os

import dramatiq  # type: ignore[import-not-found]
from dramatiq.brokers.redis import RedisBroker  # type: ignore[import-not-found]
from dramatiq.middleware.asyncio import AsyncIO  # type: ignore[import-not-found]

from bench.agents import aio_common

broker = RedisBroker(url=os.environ["REDIS_URL"])
broker.add_middleware(AsyncIO())
dramatiq.set_broker(broker)


@dramatiq.actor(max_retries=0)  # type: ignore[untyped-decorator]
async def io_job(n: int) -> None:
    await aio_common.io_job(n)


async def enqueue(numbers: list[int]) -> None:
    for n in numbers:
        io_job.send(n)


async def enqueue_one(n: int) -> None:
    io_job.send(n)


def setup(redis_url: str) -> None:
    pass
