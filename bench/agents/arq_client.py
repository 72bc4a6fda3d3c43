"""Enqueues the benchmark coroutine through arq's ``ArqRedis.enqueue_job`` (asyncio).

arq has no bulk enqueue.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from arq import create_pool  # type: ignore[import-not-found]
from arq.connections import RedisSettings  # type: ignore[import-not-found]


class ArqClient:
    def __init__(self, pool: Any) -> None:
        self.pool = pool

    async def enqueue(self, n: int) -> None:
        await self.pool.enqueue_job("noop", n)

    async def enqueue_bulk(self, ns: list[int]) -> None:
        raise NotImplementedError

    async def enqueue_at(self, n: int, due_ms: int) -> None:
        due = datetime.fromtimestamp(due_ms / 1000, tz=UTC)
        await self.pool.enqueue_job("noop", n, _defer_until=due)

    async def close(self) -> None:
        await self.pool.aclose()


async def connect(url: str) -> ArqClient:
    return ArqClient(await create_pool(RedisSettings.from_dsn(url)))
