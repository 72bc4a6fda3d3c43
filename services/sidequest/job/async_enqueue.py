"""Enqueuing from async code: `await Job.perform_later_async(...)`, `perform_bulk_async`.

The job is prepared exactly as `enqueuing.enqueue` prepares it (same payload, same
checks, same unique lock, same debounce), and pushed through the same adapter
(`enqueuing.adapter_for`: the outbox of `set(outbox=...)`, else the current adapter,
each through the enqueue wrapper of `sidequest.tracing` when one is installed); only
the push differs:

1. an adapter with `push_async` and `push_bulk_async` (the Redis adapter, on redis-py's
   asyncio client) is awaited, so the event loop keeps running while Redis answers. It
   runs a debounced push, and every push that waits for replicas
   (SIDEQUEST_ENQUEUE_WAIT_REPLICAS), as its synchronous push on a thread
2. an adapter without them that may block (the tracing wrapper around the Redis
   adapter, the outbox's session) is pushed to with its synchronous `push` on a
   thread of the loop's default executor (`asyncio.to_thread`, which carries the
   context: the current span, the batch being built)
3. the test adapters, and a batch's collector (`with batch:`), which never wait on
   the network, are called directly

Enqueue callbacks may be `async def`, as perform callbacks of async jobs may.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from sidequest import payload
from sidequest.adapter import (
    DebounceSpec,
    EnqueueAdapter,
    UniqueSpec,
    current_adapter,
    enqueuing,
)
from sidequest.job import async_perform, callbacks
from sidequest.job import enqueuing as sync_enqueuing
from sidequest.job.options import EnqueueOptions

if TYPE_CHECKING:
    from sidequest.job.base import Job

J = TypeVar("J", bound="Job")

logger = logging.getLogger("sidequest")


async def enqueue_async(
    job_class: type[J],
    args: Sequence[Any],
    options: EnqueueOptions,
    kwargs: Mapping[str, Any] = sync_enqueuing.NO_KEYWORDS,
) -> J:
    """Prepare and push one job inside its enqueue callbacks; returns it."""
    now = time.time()
    checked, named = sync_enqueuing.checked_call(job_class, args, kwargs)
    job = sync_enqueuing.prepare(job_class, checked, options, now, named)
    unique = sync_enqueuing.unique_spec(job_class, job, now)
    debounce = sync_enqueuing.debounce_spec(job_class, job, options)

    async def push() -> None:
        await _push(job_class, job, options, unique, debounce)

    chain = job_class._enqueue_callbacks()
    if await async_perform.run_chain(job, chain, push) is callbacks.HALTED:
        logger.info("enqueue of %s halted by a callback", job)
    elif not job.successfully_enqueued:
        logger.info("%s not enqueued: duplicate of %s (unique_for)", job, job.duplicate_of)
    return job


async def enqueue_bulk_async(
    job_class: type[Job],
    args_list: Iterable[Sequence[Any] | Job],
    options: EnqueueOptions,
    batch_size: int,
) -> list[str]:
    """`enqueuing.enqueue_bulk` with awaited pushes (one per batch)."""
    if options.debounce is not None:
        raise ValueError("perform_bulk cannot debounce: enqueue debounced jobs one by one")
    if job_class.unique_for is not None:
        jids: list[str] = []
        for item in args_list:
            args, kwargs, own_jid = sync_enqueuing._bulk_call(job_class, item)
            now = time.time()
            checked, named = sync_enqueuing.checked_call(job_class, args, kwargs)
            job = sync_enqueuing.prepare(job_class, checked, options, now, named, jid=own_jid)
            spec = sync_enqueuing.unique_spec(job_class, job, now)
            await _push(job_class, job, options, spec)
            if job.successfully_enqueued:
                jids.append(job.jid)
        return jids
    now = time.time()
    queue = options.queue or job_class.queue
    at = options.scheduled_at(now)
    template = sync_enqueuing.build_payload(job_class, "", [], queue, options, now)
    shape = job_class.perform_shape()
    adapter = sync_enqueuing.adapter_for(options)
    push_bulk_async = getattr(adapter, "push_bulk_async", None)
    offload = push_bulk_async is None and _may_block(options)
    jids = []
    for batch_items in sync_enqueuing._batches(args_list, batch_size):
        batch_jids = payload.new_jids(len(batch_items))
        batch = [
            sync_enqueuing._bulk_payload(job_class, shape, template, item, jid)
            for item, jid in zip(batch_items, batch_jids, strict=True)
        ]
        with enqueuing(job_class):
            if push_bulk_async is not None:
                await push_bulk_async(batch, at=at)
            elif offload:
                import asyncio  # noqa: PLC0415  (processes that never await pay nothing)

                await asyncio.to_thread(adapter.push_bulk, batch, at=at)
            else:
                adapter.push_bulk(batch, at=at)
        jids += [job["jid"] for job in batch]
    return jids


async def _push(
    job_class: type[Job],
    job: Job,
    options: EnqueueOptions,
    unique: UniqueSpec | None,
    debounce: DebounceSpec | None = None,
) -> None:
    """Push one prepared job (see the module's docstring for how) and record the result."""
    adapter = sync_enqueuing.adapter_for(options)
    push_async = getattr(adapter, "push_async", None)
    if push_async is None:
        if _may_block(options):
            import asyncio  # noqa: PLC0415  (processes that never await pay nothing)

            await asyncio.to_thread(
                sync_enqueuing.push_one, job_class, job, unique, adapter, debounce
            )
        else:
            sync_enqueuing.push_one(job_class, job, unique, adapter, debounce)
        return
    with enqueuing(job_class):
        if debounce is None:
            result = await push_async(job.payload, at=job.scheduled_at, unique=unique)
        else:
            result = await push_async(job.payload, debounce=debounce)
    sync_enqueuing.pushed(job, result, debounce)


def _may_block(options: EnqueueOptions) -> bool:
    """Whether a synchronous push of this call may wait on I/O: to an outbox, or to an
    adapter that talks to Redis (it has `push_async`, but a wrapper hides it)."""
    if options.outbox is not None:
        return True
    adapter: EnqueueAdapter = current_adapter()
    return getattr(adapter, "push_async", None) is not None
