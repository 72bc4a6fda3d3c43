"""Jobs whose `perform` is `async def`: how they are performed. Pure, no I/O.

    class FetchPageJob(Job):
        timeout = 30

        @around_perform
        async def traced(self, block):
            with tracer.span(self.job_name):
                await block()

        async def perform(self, url: str) -> None:
            async with httpx.AsyncClient() as client:
                await client.get(url)

A worker runs such a job on its event loop (runtime/async_executor.py) instead of a
processor thread. Its callbacks may be `async def` or plain functions: each one's
result is awaited when it is awaitable, so an `around_perform` gets an awaitable
`block` and `await block()` (or `return block()` from a plain function) goes on. The
callbacks and perform run in one task, so context variables a callback sets are seen
by perform.

Outside a worker, `perform_now` of an async job runs it to completion with
`asyncio.run`, or, when the calling thread already runs an event loop (an async test,
an async web handler), returns a task on that loop for the caller to await.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Any

from sidequest.job import callbacks

if TYPE_CHECKING:
    from sidequest.job.base import Job

logger = logging.getLogger("sidequest")

Block = Callable[[], Awaitable[Any]]


def is_async(job_class: type[Job]) -> bool:
    """Whether the class's perform is a coroutine function (read once per class)."""
    cached = job_class.__dict__.get("_async_perform")
    if cached is None:
        cached = inspect.iscoroutinefunction(job_class.perform)
        # On the class itself: a subclass may redefine perform either way.
        type.__setattr__(job_class, "_async_perform", cached)
    return bool(cached)


async def _settle(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


async def run_perform(job: Job) -> Any:
    """perform(*args) inside the perform callbacks; HALTED if a callback stopped it."""
    cls = type(job)
    chain = cls._perform_chain
    if chain is None:
        chain = cls._perform_chain = callbacks.collect(cls, "perform")
    perform: Callable[..., Coroutine[Any, Any, Any]] = job.perform
    if chain.empty:
        return await perform(*job.args, **job.kwargs)
    return await run_chain(job, chain, lambda: perform(*job.args, **job.kwargs))


async def run_chain(target: object, chain: callbacks.CallbackChain, action: Block) -> Any:
    """`callbacks.run` with awaited callbacks and action; HALTED if a callback stopped it."""
    for name in chain.before:
        await _settle(getattr(target, name)())
    outcome: list[Any] = [callbacks.HALTED]

    async def innermost() -> Any:
        outcome[0] = await action()
        return outcome[0]

    block: Block = innermost
    for name in reversed(chain.around):
        block = _wrap(getattr(target, name), block)
    await block()
    if outcome[0] is callbacks.HALTED:
        return callbacks.HALTED
    for name in chain.after:
        await _settle(getattr(target, name)())
    return outcome[0]


def _wrap(callback: Callable[[Block], Any], block: Block) -> Block:
    async def wrapped() -> Any:
        return await _settle(callback(block))

    return wrapped


def run_to_completion(job: Job) -> Any:
    """Run an async job's perform chain from synchronous code.

    A thread without a running loop gets `asyncio.run`; a thread running one (an
    async test calling perform_now) gets a task, since blocking would deadlock it.
    """
    import asyncio  # noqa: PLC0415  (only processes that run async jobs pay for it)

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(run_perform(job))
    return asyncio.ensure_future(run_perform(job))


async def perform_inline(job: Job) -> Any:
    """`Job.perform_inline` for an async job: retry_on/discard_on as perform_now applies
    them (a retry is enqueued through the adapter)."""
    # Imported here: base.py imports this module.
    from sidequest.job.base import rescue_inline  # noqa: PLC0415

    try:
        result = await run_perform(job)
        return None if result is callbacks.HALTED else result
    except Exception as error:
        if rescue_inline(job, error):
            return None
        raise


def perform_inline_now(job: Job) -> Any:
    """What `perform_now` returns for an async job: its result, or a task to await when
    the calling thread runs an event loop."""
    import asyncio  # noqa: PLC0415  (only processes that run async jobs pay for it)

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(perform_inline(job))
    return asyncio.ensure_future(perform_inline(job))
