"""The producer of the async I/O benchmark: `python -m bench.agents.aio_client SYSTEM
FIRST COUNT RATE TIMES_FILE`.

Enqueues jobs FIRST..FIRST+COUNT-1 through SYSTEM's own client (bench.agents.aio_<system>):
all at once when RATE is 0 (the drain), else RATE jobs per second, one by one, writing
each job's enqueue time to TIMES_FILE in bench.agents.record's layout (start latency).
"""

from __future__ import annotations

import asyncio
import importlib
import os
import sys
import time

from bench.agents.record import RECORD


async def main(system: str, first: int, count: int, rate: float, times_file: str) -> None:
    agent = importlib.import_module(f"bench.agents.aio_{system}")
    agent.setup(os.environ["REDIS_URL"])
    numbers = list(range(first, first + count))
    if rate <= 0:
        await agent.enqueue(numbers)
        return
    with open(times_file, "wb") as out:
        began = time.monotonic()
        for index, n in enumerate(numbers):
            due = began + index / rate
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            out.write(RECORD.pack(n, time.time()))
            await agent.enqueue_one(n)


if __name__ == "__main__":
    system, first, count, rate, times_file = sys.argv[1:6]
    asyncio.run(main(system, int(first), int(count), float(rate), times_file))
