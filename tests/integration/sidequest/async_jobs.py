"""Jobs with an `async def perform` that the async-job tests run in real worker processes.

Like fixture_jobs.py, they record what happened in the test's Redis (TEST_REDIS_URL),
here through redis-py's asyncio client, one per event loop.
"""

from __future__ import annotations

import asyncio
import contextvars
import os
import time
import weakref
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import redis.asyncio

from sidequest import (
    Job,
    after_perform,
    around_perform,
    before_perform,
    discard_on,
    limits_concurrency,
    limits_rate,
    retry_on,
)
from tests.integration.sidequest.fixture_jobs import RecordJob

_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, redis.asyncio.Redis] = (
    weakref.WeakKeyDictionary()
)


def recorder() -> redis.asyncio.Redis:
    loop = asyncio.get_running_loop()
    client = _clients.get(loop)
    if client is None:
        # A bounded pool that waits for a free connection: hundreds of jobs at once
        # would otherwise each open one.
        pool = redis.asyncio.BlockingConnectionPool.from_url(
            os.environ["TEST_REDIS_URL"], decode_responses=True, max_connections=50
        )
        client = _clients[loop] = redis.asyncio.Redis(connection_pool=pool)
    return client


class AsyncRecordJob(Job):
    """Awaits `seconds`, then records its jid once per execution."""

    async def perform(self, n: int, seconds: float = 0.01) -> None:
        await asyncio.sleep(seconds)
        await recorder().rpush("test:async_runs", self.jid)


class AsyncSlowJob(Job):
    """Records its start, waits while `test:hold` exists (up to `limit` s), records its end."""

    async def perform(self, n: int, limit: float = 60.0) -> None:
        client = recorder()
        await client.rpush("test:started", self.jid)
        deadline = time.monotonic() + limit
        while await client.exists("test:hold") and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        await client.rpush("test:finished", f"{os.getpid()} {self.jid}")


class AsyncTimeoutJob(Job):
    """Runs past its timeout; records that the cancellation reached it, and re-raises."""

    timeout = 0.5
    retry = 1

    async def perform(self) -> None:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            await recorder().rpush("test:cancelled", self.jid)
            raise


class AsyncSwallowJob(Job):
    """Swallows the cancellation of its timeout and goes on for `seconds`."""

    timeout = 0.3
    retry = 0

    async def perform(self, seconds: float) -> None:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            await asyncio.sleep(seconds)
        await recorder().rpush("test:swallowed_done", self.jid)


class AsyncBlockingJob(Job):
    """Blocks the event loop with synchronous code for `seconds`."""

    async def perform(self, seconds: float) -> None:
        time.sleep(seconds)
        await recorder().rpush("test:blocking_done", self.jid)


class AsyncStuckJob(Job):
    """Blocks the event loop far past its timeout: the process must restart."""

    timeout = 0.5

    async def perform(self) -> None:
        time.sleep(30)


class AsyncCrashesItsProcessJob(Job):
    """Kills the whole worker process from the event loop, every time (a poison pill)."""

    async def perform(self) -> None:
        await recorder().incr("test:crashes")
        os._exit(3)


request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="unset")


class AsyncCallbacksJob(Job):
    """Sets a context variable in a callback; async callbacks record their order."""

    @before_perform
    def set_request(self) -> None:
        request_id.set(f"req-{self.jid}")

    @around_perform
    async def around(self, block: Callable[[], Awaitable[Any]]) -> None:
        await recorder().rpush("test:order", "around-before")
        await block()
        await recorder().rpush("test:order", "around-after")

    @after_perform
    async def after(self) -> None:
        await recorder().rpush("test:order", "after")

    async def perform(self) -> None:
        await recorder().rpush("test:order", "perform")
        await recorder().set("test:request_id", request_id.get())


class AsyncUniqueJob(Job):
    """Unique while enqueued or running (unique_for); records its run."""

    unique_for = 60

    async def perform(self, n: int) -> None:
        await recorder().rpush("test:unique_runs", self.jid)


class DropMeError(Exception):
    pass


@discard_on(DropMeError)
class AsyncDiscardedJob(Job):
    """Raises an error its discard_on rule drops."""

    async def perform(self) -> None:
        await recorder().rpush("test:discarded", self.jid)
        raise DropMeError("not wanted")


class FlakyAsyncError(Exception):
    pass


@retry_on(FlakyAsyncError, wait=0, attempts=3)
class AsyncFlakyJob(Job):
    """Fails its first execution, succeeds the next (retry_on with no wait)."""

    async def perform(self) -> None:
        count = await recorder().incr(f"test:flaky:{self.jid}")
        if count < 2:
            raise FlakyAsyncError("first try fails")
        await recorder().rpush("test:flaky_done", self.jid)


class AsyncEnqueuingJob(Job):
    """Enqueues `count` RecordJobs from async code, one and in bulk."""

    async def perform(self, count: int) -> None:
        await RecordJob.perform_later_async(0)
        await RecordJob.perform_bulk_async([[n] for n in range(1, count)])


# -- flow control and limits: the start hooks of thread jobs apply on the loop ---------

_ENTER = """
redis.call('SADD', KEYS[1], ARGV[1])
local running = redis.call('SCARD', KEYS[1])
if running > tonumber(redis.call('GET', KEYS[2]) or '0') then
  redis.call('SET', KEYS[2], running)
end
return running
"""


class AsyncExpiring(Job):
    """Records its label; expires 30 s after its enqueue unless told otherwise."""

    expires_in = timedelta(seconds=30)

    async def perform(self, label: str) -> None:
        await recorder().rpush("test:starts", label)


class AsyncCancellable(Job):
    """Records its start and waits (up to `limit` s); records a cancellation reaching it
    (and re-raises it) or, if `swallow`, ignores it and goes on waiting."""

    async def perform(self, limit: float = 60.0, swallow: bool = False) -> None:
        client = recorder()
        deadline = time.monotonic() + limit
        recorded = False
        while time.monotonic() < deadline:
            # The start is recorded inside the try: a test that sees it in Redis may
            # cancel the job before the reply reaches this await, and the cancellation
            # must then meet the handler below as it would a moment later.
            try:
                if not recorded:
                    recorded = True
                    await client.rpush("test:starts", self.jid)
                await asyncio.sleep(0.02)
            except asyncio.CancelledError:
                await client.rpush("test:saw-cancel", f"{self.jid} {self.cancelled}")
                if not swallow:
                    raise
        await client.rpush("test:finishes", self.jid)


@limits_concurrency(to=2, key=lambda account, seconds: f"async-acct:{account}")
class AsyncSlotJob(Job):
    """Two at a time per account, each holding its slot for `seconds`; records the
    highest number that ran at once (across processes) in test:limits:max:ACCOUNT."""

    async def perform(self, account: str, seconds: float) -> None:
        client = recorder()
        member = f"{os.getpid()}:{self.jid}"
        running = f"test:limits:running:{account}"
        await client.eval(_ENTER, 2, running, f"test:limits:max:{account}", member)
        try:
            await asyncio.sleep(seconds)
        finally:
            await client.srem(running, member)
            await client.rpush(f"test:limits:done:{account}", self.jid)


class AsyncStepJob(Job):
    """A chain step: records its label in order."""

    async def perform(self, label: str) -> None:
        await recorder().rpush("test:async_steps", label)


@limits_rate(10, per=timedelta(seconds=1))
class AsyncRatedJob(Job):
    """At most 10 starts a second; records its jid and when it started."""

    async def perform(self, n: int) -> None:
        await recorder().rpush("test:async_rated", f"{self.jid} {time.time()!r}")
