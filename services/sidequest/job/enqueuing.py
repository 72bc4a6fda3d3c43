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

Arguments are checked before anything is built (`checked_call`): JSON-native, and a
call perform accepts. Keyword arguments are stored after the positional ones as
ActiveJob stores them (`sidequest.keywords`). Nothing here talks to Redis: pushes go to
the current adapter (`sidequest.adapter`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, TypeVar

from sidequest import arguments, keywords, payload
from sidequest.adapter import (
    DebounceSpec,
    EnqueueAdapter,
    PushResult,
    UniqueSpec,
    current_adapter,
    enqueuing,
    outbox_adapter,
    wrapped,
)
from sidequest.flow import expiry
from sidequest.job import callbacks, signature
from sidequest.job.options import EnqueueOptions, to_seconds

if TYPE_CHECKING:
    from sidequest.job.base import Job

J = TypeVar("J", bound="Job")
T = TypeVar("T")

#: debounce_max, in windows, when not given: a steady stream of enqueues still runs
DEBOUNCE_MAX_WINDOWS = 10

#: the keyword arguments of a call without any, shared
NO_KEYWORDS: Mapping[str, Any] = MappingProxyType({})

logger = logging.getLogger("sidequest")


def prepare(
    job_class: type[J],
    args: list[Any],
    options: EnqueueOptions,
    now: float,
    kwargs: Mapping[str, Any] = NO_KEYWORDS,
    *,
    jid: str | None = None,
) -> J:
    """The job ready to push: its queue, payload and run time (None: at once).

    Args:
        args: The positional arguments, and `kwargs` the keyword ones, checked by
            `checked_call` unless the job runs inline.
        jid: Keep this jid instead of a new one (a retry keeps its job's).
    """
    job = job_class(*args, **kwargs)
    if jid is not None:
        job.jid = jid
    job.queue_name = options.queue or job_class.queue
    stored = keywords.encode(job.args, job.kwargs)
    job.payload = build_payload(job_class, job.jid, stored, job.queue_name, options, now)
    job.scheduled_at = options.scheduled_at(now)
    return job


def enqueue(
    job_class: type[J],
    args: Sequence[Any],
    options: EnqueueOptions,
    kwargs: Mapping[str, Any] = NO_KEYWORDS,
    *,
    retry_of: Job | None = None,
) -> J:
    """Prepare and push one job inside its enqueue callbacks; returns it."""
    now = time.time()
    jid = None if retry_of is None else retry_of.jid
    checked, named = checked_call(job_class, args, kwargs)
    job = prepare(job_class, checked, options, now, named, jid=jid)
    # A retry keeps its job's jid (as ActiveJob's retry_job keeps job_id) and inherits
    # the unique lock that jid holds: taking the lock again would refuse the retry as a
    # duplicate of the very execution that failed.
    unique = unique_spec(job_class, job, now) if retry_of is None else None
    debounce = debounce_spec(job_class, job, options)

    def push() -> None:
        push_one(job_class, job, unique, adapter_for(options), debounce)

    if callbacks.run(job, job_class._enqueue_callbacks(), push) is callbacks.HALTED:
        logger.info("enqueue of %s halted by a callback", job)
    elif not job.successfully_enqueued:
        logger.info("%s not enqueued: duplicate of %s (unique_for)", job, job.duplicate_of)
    return job


def enqueue_bulk(
    job_class: type[Job],
    args_list: Iterable[Sequence[Any] | Job],
    options: EnqueueOptions,
    batch_size: int,
) -> list[str]:
    """Push one job per item, in pipelined batches; returns the jids.

    An item is a list of positional arguments, or a job of `job_class` built with its
    arguments (keywords included), whose jid it keeps. No enqueue callbacks run, as with
    Sidekiq's push_bulk and ActiveJob's perform_all_later.
    """
    if options.debounce is not None:
        raise ValueError("perform_bulk cannot debounce: enqueue debounced jobs one by one")
    if job_class.unique_for is not None:
        return _enqueue_bulk_unique(job_class, args_list, options)
    adapter = adapter_for(options)
    now = time.time()
    queue = options.queue or job_class.queue
    at = options.scheduled_at(now)
    # Every job of the call shares all fields but its jid and arguments: build them
    # once instead of preparing an instance per job (a bulk enqueue of 1,000 jobs is
    # one round trip, so the Python side is most of its cost).
    template = build_payload(job_class, "", [], queue, options, now)
    shape = job_class.perform_shape()
    jids: list[str] = []
    for batch_items in _batches(args_list, batch_size):
        batch_jids = payload.new_jids(len(batch_items))
        batch = [
            _bulk_payload(job_class, shape, template, item, jid)
            for item, jid in zip(batch_items, batch_jids, strict=True)
        ]
        with enqueuing(job_class):
            adapter.push_bulk(batch, at=at)
        jids += [job["jid"] for job in batch]
    return jids


def _bulk_payload(
    job_class: type[Job],
    shape: signature.Shape,
    template: payload.JobDict,
    item: Sequence[Any] | Job,
    jid: str,
) -> payload.JobDict:
    """One bulk job: the template with its checked arguments and its jid."""
    if isinstance(item, (list, tuple)):
        # Most items: an argument list, checked by its count when that settles it. The
        # general path below made a bulk enqueue of 100,000 jobs about 40% slower.
        checked = arguments.validate(item, job_class.job_name)
        if shape.required_keywords or not shape.counts(len(checked)):
            signature.check(shape, job_class.job_name, checked, {})
        return {**template, "args": checked, "jid": jid}
    args, kwargs, own_jid = _bulk_call(job_class, item)
    checked, named = checked_call(job_class, args, kwargs)
    return {**template, "args": keywords.encode(checked, named), "jid": own_jid or jid}


def _bulk_call(
    job_class: type[Job], item: Sequence[Any] | Job
) -> tuple[Sequence[Any], Mapping[str, Any], str | None]:
    """The positional and keyword arguments of one perform_bulk item, and its own jid."""
    # Argument lists first: they are most items, and an ABC check costs more.
    if isinstance(item, (list, tuple, Sequence)):
        return item, NO_KEYWORDS, None
    if not isinstance(item, job_class):
        raise TypeError(
            f"{job_class.__name__}.perform_bulk takes argument lists or "
            f"{job_class.__name__} jobs, not {item!r}"
        )
    return item.args, item.kwargs, item.jid


def _enqueue_bulk_unique(
    job_class: type[Job], args_list: Iterable[Sequence[Any] | Job], options: EnqueueOptions
) -> list[str]:
    """One push per job so each takes its lock; refused duplicates get no jid."""
    adapter = adapter_for(options)
    jids: list[str] = []
    for item in args_list:
        now = time.time()
        args, kwargs, own_jid = _bulk_call(job_class, item)
        checked, named = checked_call(job_class, args, kwargs)
        job = prepare(job_class, checked, options, now, named, jid=own_jid)
        push_one(job_class, job, unique_spec(job_class, job, now), adapter)
        if job.successfully_enqueued:
            jids.append(job.jid)
    return jids


def adapter_for(options: EnqueueOptions) -> EnqueueAdapter:
    """Where this call's jobs go: the outbox of `set(outbox=session)`, else the current."""
    if options.outbox is not None:
        return wrapped(outbox_adapter(options.outbox))
    return wrapped(current_adapter())


def push_one(
    job_class: type[Job],
    job: Job,
    unique: UniqueSpec | None,
    adapter: EnqueueAdapter,
    debounce: DebounceSpec | None = None,
) -> None:
    with enqueuing(job_class):
        if debounce is None:
            result = adapter.push(job.payload, at=job.scheduled_at, unique=unique)
        else:
            result = adapter.push(job.payload, debounce=debounce)
    pushed(job, result, debounce)


def pushed(job: Job, result: PushResult, debounce: DebounceSpec | None) -> None:
    """Record on `job` what its push did (enqueued, duplicate, debounced)."""
    job.successfully_enqueued = result.enqueued
    job.duplicate_of = result.holder
    if result.scheduled_at is not None:
        job.scheduled_at = result.scheduled_at
    if result.replaced and debounce is not None:
        logger.info("%s replaces %s (debounce key %s)", job, result.replaced, debounce.key)


def debounce_spec(job_class: type[Job], job: Job, options: EnqueueOptions) -> DebounceSpec | None:
    """The debounce of one enqueue (`Job.set(debounce=...)`), checked; None without one.

    Without `debounce_key` the key is the job's class, queue and arguments, as the
    unique_for digest: repeated enqueues of the same call collapse into one run.
    """
    if options.debounce is None:
        if options.debounce_key is not None or options.debounce_max is not None:
            raise ValueError("debounce_key and debounce_max need debounce (the window)")
        return None
    window = to_seconds(options.debounce)
    if window <= 0:
        raise ValueError(f"debounce must be a positive window, not {options.debounce!r}")
    cap = DEBOUNCE_MAX_WINDOWS * window
    if options.debounce_max is not None:
        cap = to_seconds(options.debounce_max)
        if cap < window:
            raise ValueError("debounce_max must be at least the debounce window")
    if options.wait is not None or options.wait_until is not None:
        raise ValueError("a debounced job runs at the end of its window: drop wait/wait_until")
    if job_class.unique_for is not None:
        raise ValueError(f"{job_class.job_name} has unique_for, which debounce cannot combine with")
    key = options.debounce_key
    if key is None:
        key = payload.unique_digest(job_class.job_name, job.queue_name, job.payload["args"])
    elif not isinstance(key, str) or not key:
        raise ValueError(f"debounce_key must be a non-empty string, not {key!r}")
    return DebounceSpec(key=f"{job_class.job_name}:{key}", window=window, cap=cap)


def perform_now(
    job_class: type[Job],
    args: Sequence[Any],
    options: EnqueueOptions,
    kwargs: Mapping[str, Any] = NO_KEYWORDS,
) -> Any:
    """Run the job inline, with callbacks and retry_on/discard_on (see `perform_inline`)."""
    # Inline runs skip the JSON check (nothing crosses Redis), as ActiveJob's do.
    positional, named = list(args), dict(kwargs)
    job_class.check_call(positional, named)
    job = prepare(job_class, positional, options, time.time(), named)
    job.scheduled_at = None  # it runs now, whatever `wait` was given
    return job.perform_inline()


def checked_call(
    job_class: type[Job], args: Sequence[Any], kwargs: Mapping[str, Any]
) -> tuple[list[Any], dict[str, Any]]:
    """The positional and keyword arguments, once JSON-native and a call perform takes."""
    checked = arguments.validate(list(args), job_class.job_name)
    named = arguments.validate_keywords(dict(kwargs), job_class.job_name) if kwargs else {}
    job_class.check_call(checked, named)
    return checked, named


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
    expires_in = options.expires_in if options.expires_in is not None else job_class.expires_in
    if expires_in is not None:
        # From when the job is due: a job scheduled for later does not expire before.
        due = options.scheduled_at(now) or now
        if options.debounce is not None:
            due = now + to_seconds(options.debounce)
        extra[expiry.FIELD] = expiry.deadline(due, to_seconds(expires_in))
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

    def perform_later(self, /, *args: Any, **kwargs: Any) -> Job:
        return enqueue(self.job_class, args, self.options, kwargs)

    def perform_now(self, /, *args: Any, **kwargs: Any) -> Any:
        return perform_now(self.job_class, args, self.options, kwargs)

    async def perform_later_async(self, /, *args: Any, **kwargs: Any) -> Job:
        # async_enqueue builds on this module: imported here, not at the top.
        from sidequest.job import async_enqueue  # noqa: PLC0415

        return await async_enqueue.enqueue_async(self.job_class, args, self.options, kwargs)

    async def perform_bulk_async(
        self, args_list: Iterable[Sequence[Any] | Job], *, batch_size: int = 1000
    ) -> list[str]:
        from sidequest.job import async_enqueue  # noqa: PLC0415

        return await async_enqueue.enqueue_bulk_async(
            self.job_class, args_list, self.options, batch_size
        )

    def perform_bulk(
        self, args_list: Iterable[Sequence[Any] | Job], *, batch_size: int = 1000
    ) -> list[str]:
        return enqueue_bulk(self.job_class, args_list, self.options, batch_size)


def _batches(items: Iterable[T], size: int) -> Iterator[list[T]]:
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch
