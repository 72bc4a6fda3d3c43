"""The producer side of every Python system: one command line, timed loops shared by all.

Usage (the harness runs it inside the system's environment)::

    python -m bench.agents.driver CLIENT_MODULE enqueue --mode single|bulk --count N --first I
    python -m bench.agents.driver CLIENT_MODULE stream --rate R --count K --first I --out PATH
    python -m bench.agents.driver CLIENT_MODULE schedule --count K --first I \
        --min-ahead S --max-ahead S --out PATH

CLIENT_MODULE (e.g. ``bench.agents.rq_client``) defines ``connect(url)``,
sync or ``async``, returning an object with ``enqueue(n)``, ``enqueue_bulk(ns)``,
``enqueue_at(n, due_ms)`` and ``close()``. The loops live here, not in the
client modules, so every Python system is timed by the same code; the Ruby
driver (``sidekiq_driver.rb``) mirrors it line for line.

Each command prints one JSON object on stdout. ``stream`` and ``schedule``
write 16-byte records (``bench.agents.record.RECORD``) to ``--out``: the job
argument and the enqueue time (stream) or the due time (schedule).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import inspect
import json
import math
import os
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

from bench.agents.record import RECORD

# Bulk APIs are called with batches of this many jobs (Sidekiq's push_bulk default).
BULK_BATCH = 1000


class Client(Protocol):
    def enqueue(self, n: int) -> None: ...
    def enqueue_bulk(self, ns: list[int]) -> None: ...
    def enqueue_at(self, n: int, due_ms: int) -> None: ...
    def close(self) -> None: ...


class AsyncClient(Protocol):
    async def enqueue(self, n: int) -> None: ...
    async def enqueue_bulk(self, ns: list[int]) -> None: ...
    async def enqueue_at(self, n: int, due_ms: int) -> None: ...
    async def close(self) -> None: ...


def batches(first: int, count: int) -> list[list[int]]:
    ids = list(range(first, first + count))
    return [ids[i : i + BULK_BATCH] for i in range(0, count, BULK_BATCH)]


def due_times_ms(count: int, min_ahead: float, max_ahead: float) -> list[int]:
    """Due times spread evenly over [now+min, now+max], whole milliseconds.

    Whole milliseconds, so that systems storing integer ms (arq, Dramatiq)
    keep exactly the time asked for and any "early" start is the system's.
    """
    base = math.ceil(time.time() * 1000) + round(min_ahead * 1000)
    span = round((max_ahead - min_ahead) * 1000)
    step = span / max(count - 1, 1)
    return [base + round(k * step) for k in range(count)]


def write_records(path: str, pairs: Sequence[tuple[int, float]]) -> None:
    with open(path, "wb") as out:
        out.write(b"".join(RECORD.pack(n, t) for n, t in pairs))


def run_sync(client: Client, args: argparse.Namespace) -> dict[str, Any]:
    try:
        if args.command == "enqueue":
            started = time.perf_counter()
            if args.mode == "single":
                for n in range(args.first, args.first + args.count):
                    client.enqueue(n)
            else:
                for batch in batches(args.first, args.count):
                    client.enqueue_bulk(batch)
            return {"seconds": time.perf_counter() - started}
        if args.command == "stream":
            sent: list[tuple[int, float]] = []
            start = time.monotonic() + 0.05
            worst_lag = 0.0
            for k in range(args.count):
                target = start + k / args.rate
                delay = target - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                worst_lag = max(worst_lag, time.monotonic() - target)
                n = args.first + k
                sent.append((n, time.time()))
                client.enqueue(n)
            write_records(args.out, sent)
            return {"seconds": time.monotonic() - start, "worst_lag": worst_lag}
        due = due_times_ms(args.count, args.min_ahead, args.max_ahead)
        started = time.perf_counter()
        for k, due_ms in enumerate(due):
            client.enqueue_at(args.first + k, due_ms)
        write_records(args.out, [(args.first + k, d / 1000) for k, d in enumerate(due)])
        return {"seconds": time.perf_counter() - started}
    finally:
        client.close()


async def run_async(client: AsyncClient, args: argparse.Namespace) -> dict[str, Any]:
    # The same loops as run_sync, awaiting each call: one job at a time.
    try:
        if args.command == "enqueue":
            started = time.perf_counter()
            if args.mode == "single":
                for n in range(args.first, args.first + args.count):
                    await client.enqueue(n)
            else:
                for batch in batches(args.first, args.count):
                    await client.enqueue_bulk(batch)
            return {"seconds": time.perf_counter() - started}
        if args.command == "stream":
            sent: list[tuple[int, float]] = []
            start = time.monotonic() + 0.05
            worst_lag = 0.0
            for k in range(args.count):
                target = start + k / args.rate
                delay = target - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                worst_lag = max(worst_lag, time.monotonic() - target)
                n = args.first + k
                sent.append((n, time.time()))
                await client.enqueue(n)
            write_records(args.out, sent)
            return {"seconds": time.monotonic() - start, "worst_lag": worst_lag}
        due = due_times_ms(args.count, args.min_ahead, args.max_ahead)
        started = time.perf_counter()
        for k, due_ms in enumerate(due):
            await client.enqueue_at(args.first + k, due_ms)
        write_records(args.out, [(args.first + k, d / 1000) for k, d in enumerate(due)])
        return {"seconds": time.perf_counter() - started}
    finally:
        await client.close()


def parse(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench.agents.driver")
    parser.add_argument("client", help="module defining connect(url)")
    commands = parser.add_subparsers(dest="command", required=True)
    enqueue = commands.add_parser("enqueue")
    enqueue.add_argument("--mode", choices=("single", "bulk"), default="single")
    stream = commands.add_parser("stream")
    stream.add_argument("--rate", type=float, required=True)
    stream.add_argument("--out", required=True)
    schedule = commands.add_parser("schedule")
    schedule.add_argument("--min-ahead", type=float, required=True)
    schedule.add_argument("--max-ahead", type=float, required=True)
    schedule.add_argument("--out", required=True)
    for sub in (enqueue, stream, schedule):
        sub.add_argument("--count", type=int, required=True)
        sub.add_argument("--first", type=int, default=0)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse(argv)
    module = importlib.import_module(args.client)
    connect: Callable[[str], Client | Awaitable[AsyncClient]] = module.connect
    url = os.environ["REDIS_URL"]
    if inspect.iscoroutinefunction(connect):

        async def go() -> dict[str, Any]:
            client: AsyncClient = await connect(url)
            return await run_async(client, args)

        result = asyncio.run(go())
    else:
        result = run_sync(connect(url), args)  # type: ignore[arg-type]
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
