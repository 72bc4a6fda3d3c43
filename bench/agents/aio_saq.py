"""SAQ's side of the async I/O benchmark: the function, its worker and its enqueues.

Run as a module it starts one worker with `concurrency` = BENCH_SLOTS and SAQ's
defaults otherwise.
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any

from saq import Queue  # type: ignore[import-not-found]

from bench.agents import aio_common


async def io_job(ctx: dict[str, Any], *, n: int) -> None:
    await aio_common.io_job(n)


_queue: Any = None


def queue() -> Any:
    global _queue
    if _queue is None:
        _queue = Queue.from_url(os.environ["REDIS_URL"])
    return _queue


async def enqueue(numbers: list[int]) -> None:
    q = queue()
    for start in range(0, len(numbers), 500):
        await asyncio.gather(*(q.enqueue("io_job", n=n) for n in numbers[start : start + 500]))


async def enqueue_one(n: int) -> None:
    await queue().enqueue("io_job", n=n)


def setup(redis_url: str) -> None:
    pass


if __name__ == "__main__":
    from saq.worker import Worker  # type: ignore[import-not-found]

    logging.basicConfig(level=logging.WARNING)
    worker = Worker(queue(), functions=[io_job], concurrency=aio_common.slots())
    asyncio.run(worker.start())
