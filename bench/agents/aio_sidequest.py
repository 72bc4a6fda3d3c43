"""sidequest's job for the async I/O benchmark: an `async def perform` on the event loop."""

from __future__ import annotations

from bench.agents import aio_common
from sidequest import Job


class AsyncIOJob(Job):
    async def perform(self, n: int) -> None:
        await aio_common.io_job(n)


async def enqueue(numbers: list[int]) -> None:
    AsyncIOJob.perform_bulk([[n] for n in numbers])


async def enqueue_one(n: int) -> None:
    await AsyncIOJob.perform_later_async(n)


def setup(redis_url: str) -> None:
    import sidequest  # noqa: PLC0415

    sidequest.configure(redis_url)
