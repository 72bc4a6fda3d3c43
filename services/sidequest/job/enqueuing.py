"""Enqueuing: from a job class, its arguments and one call's options to a push.

Every entry point prepares its job in one step, `prepare`: the instance (its
`__init__` draws the jid), the queue, the Sidekiq payload and the run time.

- `enqueue`: perform_later, perform_in, perform_at, set(...).perform_later and
  retry_on's retries. Prepares, then pushes inside the class's enqueue callbacks.
- `enqueue_bulk`: perform_bulk. One payload template per call and pipelined batches
  that differ only in jid and arguments; unique jobs push one by one, so that each
  takes its own lock.
- `perform_now`: perform_now and set(...).perform_now. Prepares without the JSON
  check (nothing crosses Redis) and runs the job inline.

Nothing here talks to Redis: pushes go to the current adapter (`sidequest.adapter`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any, TypeVar

from sidequest import arguments, payload
from sidequest.adapter import EnqueueAdapter, UniqueSpec, current_adapter, enqueuing
from sidequest.job import callbacks
from sidequest.job.options import EnqueueOptions, to_seconds

if TYPE_CHECKING:
    from sidequest.job.base import Job

J = TypeVar("J", bound="Job")

logger = logging.getLogger("sidequest")


def prepare(
    job_class: type[J],
    args: list[Any],
    options: EnqueueOptions,
    now: float,
    *,
    jid: str | None = None,
) -> J:
    """The job ready to push: its queue, payload and run time (None: at once).

    Args:
        args: The arguments, checked by `checked_args` unless the job runs inline.
        jid: Keep this jid instead of a new one (a retry keeps its job's).
    """
    job = job_class(*args)
    if jid is not None:
        job.jid = jid
    job.queue_name = options.queue or job_class.queue
    job.payload = build_payload(job_class, job.jid, job.args, job.queue_name, options, now)
    job.scheduled_at = options.scheduled_at(now)
    return job


def enqueue(
    job_class: type[J],
    args: Sequence[Any],
    options: EnqueueOptions,
    *,
    retry_of: Job | None = None,
) -> J:
    """Prepare and push one job inside its enqueue callbacks; returns it."""
    now = time.time()
    jid = None if retry_of is None else retry_of.jid
    job = prepare(job_class, checked_args(job_class, args), options, now, jid=jid)
    # A retry keeps its job's jid (as ActiveJob's retry_job keeps job_id) and inherits
    # the unique lock that jid holds: taking the lock again would refuse the retry as a
    # duplicate of the very execution that failed.
    unique = unique_spec(job_class, job, now) if retry_of is None else None

    def push() -> None:
        _push(job_class, job, unique, current_adapter())

    if callbacks.run(job, job_class._enqueue_callbacks(), push) is callbacks.HALTED:
        logger.info("enqueue of %s halted by a callback", job)
    elif not job.successfully_enqueued:
        logger.info("%s not enqueued: duplicate of %s (unique_for)", job, job.duplicate_of)
    return job


def enqueue_bulk(
    job_class: type[Job],
    args_list: Iterable[Sequence[Any]],
    options: EnqueueOptions,
    batch_size: int,
) -> list[str]:
    """Push one job per argument list, in pipelined batches; returns the jids.

    No enqueue callbacks run, as with Sidekiq's push_bulk and ActiveJob's
    perform_all_later.
    """
    if job_class.unique_for is not None:
        return _enqueue_bulk_unique(job_class, args_list, options)
    adapter = current_adapter()
    now = time.time()
    queue = options.queue or job_class.queue
    at = options.scheduled_at(now)
    # Every job of the call shares all fields but its jid and arguments: build them
    # once instead of preparing an instance per job (a bulk enqueue of 1,000 jobs is
    # one round trip, so the Python side is most of its cost).
    template = build_payload(job_class, "", [], queue, options, now)
    jids: list[str] = []
    for batch_args in _batches(args_list, batch_size):
        batch_jids = payload.new_jids(len(batch_args))
        batch = [
            {**template, "args": checked_args(job_class, args), "jid": jid}
            for args, jid in zip(batch_args, batch_jids, strict=True)
        ]
        with enqueuing(job_class):
            adapter.push_bulk(batch, at=at)
        jids += batch_jids
    return jids


def _enqueue_bulk_unique(
    job_class: type[Job], args_list: Iterable[Sequence[Any]], options: EnqueueOptions
) -> list[str]:
    """One push per job so each takes its lock; refused duplicates get no jid."""
    adapter = current_adapter()
    jids: list[str] = []
    for args in args_list:
        now = time.time()
        job = prepare(job_class, checked_args(job_class, args), options, now)
        _push(job_class, job, unique_spec(job_class, job, now), adapter)
        if job.successfully_enqueued:
            jids.append(job.jid)
    return jids


def _push(
    job_class: type[Job], job: Job, unique: UniqueSpec | None, adapter: EnqueueAdapter
) -> None:
    with enqueuing(job_class):
        result = adapter.push(job.payload, at=job.scheduled_at, unique=unique)
    job.successfully_enqueued = result.enqueued
    job.duplicate_of = result.holder


def perform_now(job_class: type[Job], args: Sequence[Any], options: EnqueueOptions) -> Any:
    """Run the job inline, with callbacks and retry_on/discard_on (see `perform_inline`)."""
    # Inline runs skip the JSON check (nothing crosses Redis), as ActiveJob's do.
    job_class.check_arity(len(args))
    job = prepare(job_class, list(args), options, time.time())
    job.scheduled_at = None  # it runs now, whatever `wait` was given
    return job.perform_inline()


def checked_args(job_class: type[Job], args: Sequence[Any]) -> list[Any]:
    """The arguments as a list, once they are JSON-native and as many as perform takes."""
    checked = arguments.validate(list(args), job_class.job_name)
    job_class.check_arity(len(checked))
    return checked


def build_payload(
    job_class: type[Job],
    jid: str,
    args: list[Any],
    queue: str,
    options: EnqueueOptions,
    now: float,
) -> payload.JobDict:
    """The Sidekiq payload: the class's options, overridden by this call's."""
    retry = job_class.retry if options.retry is None else options.retry
    extra: dict[str, Any] = dict(options.extra)
    if job_class.retry_queue is not None:
        extra.setdefault("retry_queue", job_class.retry_queue)
    if job_class.retry_for is not None:
        # Whole seconds, as Sidekiq clients write it.
        extra.setdefault("retry_for", round(to_seconds(job_class.retry_for)))
    if job_class.unique_for is not None:
        extra["unique_for"] = to_seconds(job_class.unique_for)
        extra["unique_digest"] = payload.unique_digest(job_class.job_name, queue, args)
    if not job_class.dead:
        extra["dead"] = False
    return payload.build(
        job_class.job_name, args, queue=queue, retry=retry, jid=jid, extra=extra, now=now
    )


def unique_spec(job_class: type[Job], job: Job, now: float) -> UniqueSpec | None:
    """The lock a unique job takes with its push, held past its run time by `unique_for`."""
    if job_class.unique_for is None:
        return None
    ttl = to_seconds(job_class.unique_for)
    if job.scheduled_at is not None:
        ttl += job.scheduled_at - now
    return UniqueSpec(digest=str(job.payload["unique_digest"]), ttl=ttl)


class ConfiguredJob:
    """A job class with options from `Job.set(...)`, ready to enqueue or perform."""

    def __init__(self, job_class: type[Job], options: EnqueueOptions):
        self.job_class = job_class
        self.options = options

    def set(self, **changes: Any) -> ConfiguredJob:
        return ConfiguredJob(self.job_class, replace(self.options, **changes))

    def perform_later(self, *args: Any) -> Job:
        return enqueue(self.job_class, args, self.options)

    def perform_now(self, *args: Any) -> Any:
        return perform_now(self.job_class, args, self.options)

    def perform_bulk(
        self, args_list: Iterable[Sequence[Any]], *, batch_size: int = 1000
    ) -> list[str]:
        return enqueue_bulk(self.job_class, args_list, self.options, batch_size)


def _batches(items: Iterable[Sequence[Any]], size: int) -> Iterator[list[Sequence[Any]]]:
    batch: list[Sequence[Any]] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch
