"""The job of the async I/O benchmark (bench/async_io.py), the same for every system.

Each job notes when it started, awaits 10 ms (a stand-in for an HTTP call or a query
that waits on the network), runs one Redis command (INCR) on an asyncio client of its
process, and appends its record (bench.agents.record) with that start time. The Redis
client is one per event loop, its pool sized to the jobs in flight (BENCH_SLOTS): a job
never waits for a connection (with fewer, a thousand jobs queued on the pool's lock cost
more CPU than the jobs), and none opens one per job.
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

import redis.asyncio

from bench.agents.record import record

SLEEP_SECONDS = 0.01
COUNTER_KEY = "bench:aio:incr"

_clients: dict[int, Any] = {}


def slots() -> int:
    return int(os.environ.get("BENCH_SLOTS", "100"))


def client() -> Any:
    loop = asyncio.get_running_loop()
    found = _clients.get(id(loop))
    if found is None or found[0] is not loop:
        pool = redis.asyncio.BlockingConnectionPool.from_url(
            os.environ["REDIS_URL"], max_connections=slots()
        )
        found = (loop, redis.asyncio.Redis(connection_pool=pool))
        _clients[id(loop)] = found
    return found[1]


async def io_job(n: int) -> None:
    started = time.time()
    await asyncio.sleep(SLEEP_SECONDS)
    await client().incr(COUNTER_KEY)
    record(n, started)
