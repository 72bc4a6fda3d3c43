"""The jobs the chaos runs enqueue (one with a plain perform, one with an async one):
they record every execution in a witness Redis.

The witness is a second redis-server that no fault touches, so the record of what ran
survives worker kills and the job Redis losing writes. Each execution appends

    s <jid> <token> <pid> <time>           when perform starts
    e <jid> <token> <pid> <time> ok|fail   when perform returns or raises

to the list `witness:events`; `token` tells executions of one jid apart, `pid` names
the worker process that ran it.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import time
import weakref

import redis
import redis.asyncio

from sidequest import Job, retry_on

EVENTS = "witness:events"
FLAKY_FAILURES = "witness:flaky"

_client: redis.Redis | None = None


_async_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, redis.asyncio.Redis] = (
    weakref.WeakKeyDictionary()
)


def async_witness() -> redis.asyncio.Redis:
    """The witness on the running loop's own asyncio client (a worker's event loop)."""
    loop = asyncio.get_running_loop()
    client = _async_clients.get(loop)
    if client is None:
        pool = redis.asyncio.BlockingConnectionPool.from_url(
            os.environ["WITNESS_URL"], socket_timeout=10, max_connections=20
        )
        client = _async_clients[loop] = redis.asyncio.Redis(connection_pool=pool)
    return client


def witness() -> redis.Redis:
    global _client
    if _client is None:
        _client = redis.Redis.from_url(os.environ["WITNESS_URL"], socket_timeout=10)
    return _client


class FlakyError(Exception):
    """Raised once per flaky job: its retry must come back through the retry set."""


class DoomedError(Exception):
    """Raised by every execution of a doomed job: it must end in the dead set, once."""


@retry_on(FlakyError, wait=1.0, attempts=5, jitter=0.0)
class ChaosJob(Job):
    """Sleeps `seconds`, then succeeds ("ok"), fails once ("flaky") or always ("doomed")."""

    # Any error but FlakyError goes straight to the dead set, where the run will see it.
    retry = 0

    def perform(self, n: int, seconds: float, kind: str, due: float = 0.0) -> None:
        client = witness()
        token = secrets.token_hex(4)
        pid = os.getpid()
        client.rpush(EVENTS, f"s {self.jid} {token} {pid} {time.time()!r}")
        time.sleep(seconds)
        if kind == "doomed" or (
            kind == "flaky" and client.hincrby(FLAKY_FAILURES, self.jid, 1) == 1
        ):
            client.rpush(EVENTS, f"e {self.jid} {token} {pid} {time.time()!r} fail")
            raise (DoomedError if kind == "doomed" else FlakyError)(f"job {n} fails ({kind})")
        client.rpush(EVENTS, f"e {self.jid} {token} {pid} {time.time()!r} ok")


@retry_on(FlakyError, wait=1.0, attempts=5, jitter=0.0)
class AsyncChaosJob(Job):
    """ChaosJob with an `async def perform`: it runs on the workers' event loops."""

    retry = 0

    async def perform(self, n: int, seconds: float, kind: str, due: float = 0.0) -> None:
        client = async_witness()
        token = secrets.token_hex(4)
        pid = os.getpid()
        await client.rpush(EVENTS, f"s {self.jid} {token} {pid} {time.time()!r}")
        await asyncio.sleep(seconds)
        if kind == "doomed" or (
            kind == "flaky" and await client.hincrby(FLAKY_FAILURES, self.jid, 1) == 1
        ):
            await client.rpush(EVENTS, f"e {self.jid} {token} {pid} {time.time()!r} fail")
            raise (DoomedError if kind == "doomed" else FlakyError)(f"job {n} fails ({kind})")
        await client.rpush(EVENTS, f"e {self.jid} {token} {pid} {time.time()!r} ok")
