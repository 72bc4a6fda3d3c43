"""Enqueuing from async code: `await Job.perform_later_async(...)`, `perform_bulk_async`.

The job is prepared exactly as `enqueuing.enqueue` prepares it (same payload, same
checks, same unique lock); only the push differs. An adapter with `push_async` and
`push_bulk_async` (the Redis adapter, on redis-py's asyncio client) is awaited, so the
event loop keeps running while Redis answers; the test adapters, which never wait on
the network, are called directly. Enqueue callbacks may be `async def`, as perform
callbacks of async jobs may.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from sidequest import payload
from sidequest.adapter import PushResult, UniqueSpec, current_adapter, enqueuing
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

    async def push() -> None:
        result = await _push(job_class, job.payload, job.scheduled_at, unique)
        job.successfully_enqueued = result.enqueued
        job.duplicate_of = result.holder

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
    if job_class.unique_for is not None:
        jids: list[str] = []
        for item in args_list:
            args, kwargs, own_jid = sync_enqueuing._bulk_call(job_class, item)
            now = time.time()
            checked, named = sync_enqueuing.checked_call(job_class, args, kwargs)
            job = sync_enqueuing.prepare(job_class, checked, options, now, named, jid=own_jid)
            spec = sync_enqueuing.unique_spec(job_class, job, now)
            result = await _push(job_class, job.payload, job.scheduled_at, spec)
            if result.enqueued:
                jids.append(job.jid)
        return jids
    now = time.time()
    queue = options.queue or job_class.queue
    at = options.scheduled_at(now)
    template = sync_enqueuing.build_payload(job_class, "", [], queue, options, now)
    shape = job_class.perform_shape()
    adapter = current_adapter()
    push_bulk_async = getattr(adapter, "push_bulk_async", None)
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
            else:
                adapter.push_bulk(batch, at=at)
        jids += [job["jid"] for job in batch]
    return jids


async def _push(
    job_class: type[Job],
    job_payload: payload.JobDict,
    at: float | None,
    unique: UniqueSpec | None,
) -> PushResult:
    adapter = current_adapter()
    push_async = getattr(adapter, "push_async", None)
    with enqueuing(job_class):
        if push_async is not None:
            result: PushResult = await push_async(job_payload, at=at, unique=unique)
            return result
        return adapter.push(job_payload, at=at, unique=unique)
