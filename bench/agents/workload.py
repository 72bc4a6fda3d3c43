"""What a benchmark job does before it records itself: the workload of the drain.

The harness picks the workload per drain through the worker's environment, so
the job class, its name and the enqueue path stay the same for every workload:

- ``BENCH_WORKLOAD``: ``noop`` (the default: the job only records itself),
  ``redis`` (one ``INCR`` on the benchmark Redis through the job's own client),
  ``sleep`` (1 ms, a stand-in for a blocking call that releases the GIL) or
  ``sql`` (one ``SELECT`` by primary key on PostgreSQL through a pooled connection);
- ``BENCH_PG_DSN``: the database the harness created (``sql`` only);
- ``BENCH_CONCURRENCY``: jobs in flight per worker process, which sizes the pool.

Every Python system's job calls ``job(n)``; arq's coroutine awaits
``async_job(ctx, n)``, with its clients made in arq's ``on_startup`` hook, as
an arq user would write it. ``sidekiq_jobs.rb`` does the same in Ruby.

The clients are made on first use, in the process that uses them: RQ's
default worker forks a child per job, and a connection pool's sockets and
threads must not be shared across a fork. So under RQ each job connects anew,
which is what its fork-per-job design costs any job that does I/O. (``rq worker``
also imports the job's module in each forked child, so there each job imports
the client library too: RQ's default worker as its command line runs it.)
"""

from __future__ import annotations

import importlib
import os
import threading
import time
from collections.abc import Callable
from typing import Any

from bench.agents.record import record

WORKLOAD = os.environ.get("BENCH_WORKLOAD", "noop")
WORKLOADS = ("noop", "redis", "sleep", "sql")
COUNTER_KEY = "bench:incr"
SLEEP_SECONDS = 0.001
# The harness fills bench_items with ids 1..ROWS (bench/pgdb.py).
ROWS = 10_000
SELECT = "SELECT name, value FROM bench_items WHERE id = %s"

if WORKLOAD not in WORKLOADS:
    raise ValueError(f"BENCH_WORKLOAD={WORKLOAD!r}: choose one of {', '.join(WORKLOADS)}")

# The workload's client library is imported with the jobs module, as a user's top-level
# import would be: at worker boot, not inside the first job. A no-op worker (figures 1-6,
# idle memory included) and every producer import nothing more than before.
_LIBRARIES = {"redis": ("redis", "redis.asyncio"), "sql": ("psycopg", "psycopg_pool")}
for _library in _LIBRARIES.get(WORKLOAD, ()):
    importlib.import_module(_library)


def item_id(n: int) -> int:
    """The row a job reads: spread over the table, so the index is really used."""
    return n % ROWS + 1


def pool_size() -> int:
    return int(os.environ.get("BENCH_CONCURRENCY", "10"))


# Thread-based systems ---------------------------------------------------------------------

_lock = threading.Lock()
_made: dict[str, tuple[int, Any]] = {}


def _shared(name: str, make: Callable[[], Any]) -> Any:
    """One client per process, made by the first job that needs it (see the module doc)."""
    pid = os.getpid()
    found = _made.get(name)
    if found is None or found[0] != pid:
        with _lock:
            found = _made.get(name)
            if found is None or found[0] != pid:
                found = (pid, make())
                _made[name] = found
    return found[1]


# The imports below find the libraries loaded already (see _LIBRARIES above).


def _redis_client() -> Any:
    import redis  # noqa: PLC0415

    # redis-py's client is thread-safe: it holds a pool and lends a connection per command.
    return redis.Redis.from_url(os.environ["REDIS_URL"])


def _pg_pool() -> Any:
    from psycopg_pool import ConnectionPool  # noqa: PLC0415

    pool = ConnectionPool(os.environ["BENCH_PG_DSN"], open=True, **_pool_options())
    pool.wait(timeout=30)
    return pool


def _pool_options() -> dict[str, Any]:
    """What the sync and the asyncio pools share: one connection per thread or job slot.

    autocommit: a SELECT outside a transaction is one round trip, as with Ruby's pg;
    psycopg prepares the statement on a connection after its fifth use (its default).
    """
    size = pool_size()
    return {"min_size": size, "max_size": size, "kwargs": {"autocommit": True}, "name": "bench"}


def _incr(n: int) -> None:
    _shared("redis", _redis_client).incr(COUNTER_KEY)


def _sleep(n: int) -> None:
    time.sleep(SLEEP_SECONDS)


def _select(n: int) -> None:
    with _shared("pg", _pg_pool).connection() as conn:
        conn.execute(SELECT, (item_id(n),)).fetchone()


_WORK: dict[str, Callable[[int], None]] = {"redis": _incr, "sleep": _sleep, "sql": _select}


def _timed(work: Callable[[int], None]) -> Callable[[int], None]:
    def job(n: int) -> None:
        started = time.time()  # before the I/O: latency figures keep their meaning
        work(n)
        record(n, started)

    return job


# The no-op job stays exactly what it was before workloads existed: record(n) and nothing else.
job: Callable[[int], None] = record if WORKLOAD == "noop" else _timed(_WORK[WORKLOAD])


# asyncio (arq) ----------------------------------------------------------------------------


async def startup(ctx: dict[str, Any]) -> None:
    """arq's on_startup: the clients this workload needs, kept in arq's context."""
    if WORKLOAD == "redis":
        import redis.asyncio  # noqa: PLC0415

        ctx["bench_redis"] = redis.asyncio.Redis.from_url(os.environ["REDIS_URL"])
    elif WORKLOAD == "sql":
        from psycopg_pool import AsyncConnectionPool  # noqa: PLC0415

        pool = AsyncConnectionPool(os.environ["BENCH_PG_DSN"], open=False, **_pool_options())
        await pool.open(wait=True, timeout=30)
        ctx["bench_pg"] = pool


async def shutdown(ctx: dict[str, Any]) -> None:
    if "bench_redis" in ctx:
        await ctx["bench_redis"].aclose()
    if "bench_pg" in ctx:
        await ctx["bench_pg"].close()


async def async_job(ctx: dict[str, Any], n: int) -> None:
    if WORKLOAD == "noop":
        record(n)
        return
    started = time.time()
    if WORKLOAD == "redis":
        await ctx["bench_redis"].incr(COUNTER_KEY)
    elif WORKLOAD == "sleep":
        import asyncio  # noqa: PLC0415 - loaded by arq already; thread systems never get here

        await asyncio.sleep(SLEEP_SECONDS)
    else:
        async with ctx["bench_pg"].connection() as conn:
            await (await conn.execute(SELECT, (item_id(n),))).fetchone()
    record(n, started)
